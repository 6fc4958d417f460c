"""Evaluating the rules on the live streams: the evaluator, its state, the one replica that
runs it."""
