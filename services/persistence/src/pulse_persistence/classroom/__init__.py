"""The classroom in persistence: the EVENTS consumer (:mod:`.consumer`) and its writer
(:mod:`.writer`), and the ``rpc.classroom.producer_settings`` verb (:mod:`.settings_verb`)."""
