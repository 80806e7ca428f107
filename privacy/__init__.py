"""Personal data in an immutable log (docs/PRIVACY.md).

``keys``: data keys per subject and period, wrapped by a master key, behind a port.
``sealing``: personal fields sealed inside events by producers and opened by readers.
``retention``: how long each event type's personal fields are kept.
"""
