"""What phones show of agents and lines: as-feature-event key synchronisation and RFC 4235 dialog-info busy lamps."""
