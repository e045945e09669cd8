"""The state store: registrations, agent sessions and the append-only event journal."""
