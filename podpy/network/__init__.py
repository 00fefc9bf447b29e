"""A container's networking on the engine's side: the options (`options`), the /etc files
(`files`), the user networks' table and addresses (`table`), what `create` decides
(`config`) and what a start sets up (`start`). The verbs on networks are in
podpy.engine.networks; the runtime's side is rootless.network."""
