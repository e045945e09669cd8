"""Endpoint drivers: softphones run here, and phones driven through their HTTP APIs."""
