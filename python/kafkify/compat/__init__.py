"""Drop-in compatibility shims: change one import, keep your code.

- ``kafkify.compat.kafka``: kafka-python's ``KafkaProducer`` (2.x and 3.x).
- ``kafkify.compat.aiokafka``: aiokafka's ``AIOKafkaProducer`` (0.14).
- ``kafkify.compat.confluent_kafka``: confluent-kafka's ``Producer`` (2.x).

Each is thin Python over :class:`kafkify.Producer`; ``docs/migrating.md`` lists,
per peer, what is identical, what differs and why.
"""
