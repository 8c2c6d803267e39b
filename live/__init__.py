"""swapcam.live: the runtime. The per-frame swap (pipeline, swapper, composite, blend, colour), the live frame loop
(runner, sources, sinks) and the offline converter, with their command-line modules."""
