"""Business metrics for managers: rollups per day x business unit x channel x event type,
and the smaller tables analytics needs (campaigns, interests, survey topics, staff, the
customers' bands). ``facts`` reads an event, ``fold`` turns facts into increments,
``postgres`` keeps the tables, ``queries`` answers from them."""
