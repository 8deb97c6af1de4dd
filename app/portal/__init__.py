"""The client portal: the tenant's staff sign in to brand the Link page and follow the sync."""
