"""The consumer runtime: the group loop, decoding, atomic effects, file journal, dead
letters, stream retention, health, and the topology of which group reads which stream."""
