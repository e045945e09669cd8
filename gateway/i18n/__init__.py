"""The phone screens' message catalogs (gettext, compiled with Babel) and their loading."""
