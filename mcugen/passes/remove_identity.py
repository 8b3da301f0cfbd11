"""Drop Identity and inference-mode Dropout: they copy their input."""


def run(graph):
    for node in [n for n in graph.nodes if n.op == "identity"]:
        graph.bypass(node)
