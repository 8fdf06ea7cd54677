"""The actor network of a results file, for Gephi, Cytoscape, networkx or igraph.

Nodes are actors under their canonical names (`actors.names_in`), with their kind and
affiliation; an edge joins two actors an item links (everyone at a meeting or on an
agreement; across the sides of a dispute), one edge per item, with its kind, date and the
item it comes from. Written as GEXF and GraphML (networkx) and as the nodes/edges CSV pair
Gephi's spreadsheet import reads (`Id`/`Label`, `Source`/`Target`/`Weight`/`Type`).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import networkx as nx

from summarizer.actors import names_in
from summarizer.atomic import atomic_path
from summarizer.display import when
from summarizer.export import Written, write_csv
from summarizer.schema import Dispute, Item, Result, parties
from summarizer.tables import item_id, item_name

NODE_COLUMNS = ("Id", "Label", "kind", "affiliation", "items")
EDGE_COLUMNS = ("Source", "Target", "Weight", "Type", "kind", "date", "label", "item", "article")


def links(item: Item, names: dict[str, str]) -> list[tuple[str, str]]:
    """Who an item links to whom, by canonical name; an actor is never linked to itself."""
    if isinstance(item, Dispute):
        sides = [[names[p.name] for p in side.parties] for side in item.sides]
        pairs = [(a, b) for x, y in itertools.combinations(sides, 2) for a in x for b in y]
    else:
        pairs = list(itertools.combinations([names[p.name] for p in parties(item)], 2))
    return list(dict.fromkeys((a, b) for a, b in pairs if a != b))


def actor_graph(results: Sequence[Result]) -> nx.MultiGraph:
    """One node per actor, one edge per item and pair of actors it links."""
    names = names_in(results)
    kinds: dict[str, Counter[str]] = {}
    affiliations: dict[str, Counter[str]] = {}
    items: Counter[str] = Counter()
    graph = nx.MultiGraph()
    for result in results:
        summary = result.summary
        for kind, item in summary.items():
            for party in parties(item):
                name = names[party.name]
                kinds.setdefault(name, Counter())[party.kind] += 1
                if party.affiliation:
                    affiliations.setdefault(name, Counter())[party.affiliation] += 1
            for name in {names[p.name] for p in parties(item)}:
                items[name] += 1
            for a, b in links(item, names):
                graph.add_edge(
                    a,
                    b,
                    key=item_id(item),
                    weight=1,
                    kind=kind,
                    date=when(item) or "",  # GEXF and GraphML have no null
                    label=item_name(item) or kind,
                    item=item_id(item),
                    article=summary.id,
                )
    for name in kinds:
        graph.add_node(
            name,
            label=name,
            kind=kinds[name].most_common(1)[0][0],
            affiliation=affiliations[name].most_common(1)[0][0] if name in affiliations else "",
            items=items[name],
        )
    return graph


def write_graph(target: Path, results: Sequence[Result], *, excel: bool = False) -> Written:
    """`target` (GEXF), and beside it the same name as .graphml, .nodes.csv and .edges.csv."""
    graph = actor_graph(results)
    base = target.with_suffix("") if target.suffix.lower() in {".gexf", ".graphml"} else target
    gexf, graphml = base.with_suffix(".gexf"), base.with_suffix(".graphml")
    with atomic_path(gexf) as tmp:
        nx.write_gexf(graph, tmp)
    with atomic_path(graphml) as tmp:
        nx.write_graphml(graph, tmp)
    nodes = [
        {"Id": n, "Label": n, **{k: data[k] for k in NODE_COLUMNS[2:]}}
        for n, data in graph.nodes(data=True)
    ]
    edges = [
        {"Source": a, "Target": b, "Weight": data["weight"], "Type": "Undirected", **data}
        for a, b, data in graph.edges(data=True)
    ]
    paths = [
        gexf,
        graphml,
        write_csv(base.with_name(base.name + ".nodes.csv"), NODE_COLUMNS, nodes, excel=excel),
        write_csv(base.with_name(base.name + ".edges.csv"), EDGE_COLUMNS, edges, excel=excel),
    ]
    notes = [] if graph.number_of_nodes() else ["no actors: the graph is empty"]
    return Written(paths, notes)
