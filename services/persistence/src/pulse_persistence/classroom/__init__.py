"""The classroom in persistence (ADR 0023): the EVENTS consumer (:mod:`.consumer`) and its
writer (:mod:`.writer`); classes and who may list them (:mod:`.classes`); the class views
(:mod:`.overview`, :mod:`.progress`, :mod:`.hotspots`, :mod:`.timeline`, :mod:`.feed`) and their
NATS responders (:mod:`.answers`); the ``rpc.classroom.producer_settings`` verb
(:mod:`.settings_verb`)."""
