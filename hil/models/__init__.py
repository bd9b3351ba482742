"""Physical models every DUT family shares; a family supplies only its data (Beta, OCV table, budgets)."""
