"""The classroom in persistence (ADR 0023): classes and who may list them (:mod:`.classes`),
the class views (:mod:`.overview`, :mod:`.progress`, :mod:`.hotspots`, :mod:`.timeline`,
:mod:`.feed`), and their NATS responders (:mod:`.answers`)."""
