"""The triggers app (faust-streaming): touchlog.resolved → touchlog.triggers."""
