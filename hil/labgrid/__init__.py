"""Benches shared through labgrid: stations as places, hil's own labgrid resources, acquiring a place.

`resources` registers the resource and driver classes labgrid lacks (imported for the side effect
of registering them with labgrid's target factory); `exporter` writes a station's exporter
configuration; `place` acquires a place through a coordinator and binds a station to its resources.
See docs/labgrid.md.
"""
