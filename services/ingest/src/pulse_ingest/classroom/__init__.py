"""The classroom at the producer edge: notebook events over HTTP (:mod:`.routes`) and NATS
(``ingest.events``), one validation path (:mod:`.validation`), the classes' producer settings
(:mod:`.class_settings`), and the EVENTS stream (:mod:`.publishing`)."""
