"""HTTP: the JSON API and the phone XML services (Cisco, Yealink, Polycom) with their shared screens."""
