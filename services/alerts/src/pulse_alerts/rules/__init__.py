"""Alert rules: their requests (:mod:`.rulebook`) and their table (:mod:`.store`)."""

from .rulebook import Refused, Rulebook
from .store import RuleStore, load_rules, rules_version

__all__ = ["Refused", "RuleStore", "Rulebook", "load_rules", "rules_version"]
