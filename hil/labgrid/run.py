"""`hil run --place NAME`: hold the place, bind the station file to its resources, run, release.

The station file comes from `--station`, else from the place's `station` tag (a path, absolute or
relative to the current folder or the repository). The station bound to the place is written into
the run folder (`station-place-NAME.yaml`) and the run uses that file, so the record names and
hashes the station as it was actually reached.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable
from pathlib import Path

import yaml

from hil.errors import UsageError
from hil.labgrid.bind import bind_place
from hil.labgrid.place import Place, acquired_place
from hil.locks import out_folder_lock
from hil.station.station import load_station

ROOT = Path(__file__).resolve().parents[2]
#: the place tag naming the station file
STATION_TAG = "station"


def station_file(given: str | None, place: str, tags: dict[str, str]) -> Path:
    """The station file of a place run: --station, else the place's tag."""
    if given:
        return Path(given)
    tagged = tags.get(STATION_TAG)
    if not tagged:
        raise UsageError(
            f"--place {place}: give --station FILE, or tag the place with its station file "
            f"(labgrid-client -p {place} set-tags {STATION_TAG}=stations/NAME.yaml)"
        )
    path = Path(tagged)
    if path.is_absolute() or path.exists():
        return path
    return ROOT / path


def write_place_station(place: Place, given: str | None, out: Path) -> Path:
    """The station file bound to the held place, written into the run folder; its path.

    `given` is the --station file (else the place's tag names it). Also for `hil eol`: inside
    `acquired_place(...)`, pass the returned file to the run as its station.
    """
    file = station_file(given, place.name, place.tags)
    bound = bind_place(load_station(file), str(file), place.name, place.resources)
    out.mkdir(parents=True, exist_ok=True)
    derived = out / f"station-place-{place.name}.yaml"
    header = f"# {file} bound to labgrid place {place.name} (coordinator {place.coordinator})\n"
    derived.write_text(
        header + yaml.safe_dump(bound.model_dump(mode="json", exclude_none=True), sort_keys=False),
        encoding="utf-8",
    )
    return derived


def run_on_place(
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace], int],
    default_out: Callable[[str], Path],
) -> int:
    """Run `run(args)` with the place held and the station bound to it; the place released after."""
    with acquired_place(args.place, args.coordinator, args.wait) as place:
        print(f"place {place.name}: acquired as {place.holder} (coordinator {place.coordinator})", flush=True)
        if args.out:
            out = Path(args.out)
        else:
            out = default_out(load_station(station_file(args.station, place.name, place.tags)).dut.name)
        local = copy.copy(args)
        with out_folder_lock(out):  # the run takes it again; nothing is written into a busy folder
            derived = write_place_station(place, args.station, out)
        local.place, local.station, local.out = None, str(derived), str(out)
        # hil imported labgrid already: its pytest plugin (unused by the plans) would only warn
        local.pytest_args = [*args.pytest_args, "-p", "no:labgrid"]
        return run(local)
