"""The Kafka runtime: the projection runner, dead letters, rebuilds."""
