"""Default topic names. Deployments may rename them through settings."""

TOUCHPOINTS = "touchlog.touchpoints"
RESOLVED = "touchlog.resolved"
DEADLETTER = "touchlog.deadletter"
TRIGGERS = "touchlog.triggers"
TRIGGERS_SUPPRESSED = "touchlog.triggers.suppressed"
TRIGGER_COMMANDS = "touchlog.trigger-commands"  # internal to the triggers app: clock, merges
AUDIENCES = "touchlog.audiences"  # audience.entered / audience.exited
