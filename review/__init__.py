"""Review: the adjusters' queue and correction screen."""
