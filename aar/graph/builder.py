"""The agent graph, assembled in one place (edges only; the work is in nodes.py)."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from aar.graph import nodes
from aar.graph.runtime import Runtime
from aar.graph.state import StudyState

# A study runs ~9 steps per round (max_rounds ≤ a few hundred); the limit only stops a routing bug.
RECURSION_LIMIT = 5_000


def build_graph(rt: Runtime, checkpointer: Any) -> Any:
    """Compile the study graph with its nodes bound to `rt` and every step checkpointed."""
    graph = StateGraph(StudyState)
    for name in (
        "plan",
        "propose",
        "implement",
        "audit",
        "run",
        "evaluate",
        "analyze",
        "decide",
        "finalize",
        "report",
    ):
        node = getattr(nodes, name)
        graph.add_node(name, lambda state, node=node: node(state, rt))
    graph.add_edge(START, "plan")
    graph.add_conditional_edges("plan", nodes.route_after_plan)  # → propose, or finalize when out of budget
    graph.add_conditional_edges("propose", nodes.route_after_propose)  # → implement, or finalize
    graph.add_edge("implement", "audit")
    graph.add_conditional_edges(
        "audit", nodes.route_after_audit
    )  # failed audits → implement, else → run (or stop)
    graph.add_edge("run", "evaluate")  # host scores the sandbox's predictions
    graph.add_edge("evaluate", "analyze")
    graph.add_edge("analyze", "decide")
    graph.add_conditional_edges("decide", nodes.route_after_decide)  # → plan (next round) or finalize
    graph.add_edge("finalize", "report")  # integrity checks + sealed test on finalists
    graph.add_edge("report", END)
    return graph.compile(checkpointer=checkpointer)
