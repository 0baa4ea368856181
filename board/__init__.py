"""The kitchen display: a live web board of tickets for every station and the pass."""
