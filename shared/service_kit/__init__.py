"""The platform's service kit: what every service would otherwise write again."""
