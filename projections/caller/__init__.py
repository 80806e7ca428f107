"""The caller card: what a rep needs on screen before answering the phone."""
