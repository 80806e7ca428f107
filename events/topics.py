"""Default topic names. Deployments may rename them through settings."""

TOUCHPOINTS = "touchlog.touchpoints"
RESOLVED = "touchlog.resolved"
DEADLETTER = "touchlog.deadletter"
TRIGGERS = "touchlog.triggers"
