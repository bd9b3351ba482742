"""DUT families: one package per DUT holding its spec data, protocols, client and twin."""
