"""Lab harness: inventory, endpoint drivers, lab LAN, captures and reports."""
