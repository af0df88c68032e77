"""A Mermaid flowchart of a flow, from its IR (what people read, not the ASL)."""

from __future__ import annotations

from .ir import (
    ActionNode,
    ApprovalNode,
    BranchNode,
    FlowIR,
    IRNode,
    NotifyNode,
    ParallelNode,
    Sequence,
    Stage,
    WaitNode,
)


def _label(text: str) -> str:
    return text.replace('"', "'")


class _Graph:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.count = 0

    def node_id(self) -> str:
        self.count += 1
        return f"n{self.count}"

    def shape(self, node: IRNode) -> str:
        if isinstance(node, ApprovalNode):
            mode = (
                node.stage.mode
                if isinstance(node.stage.mode, str)
                else ", ".join(f"{k} {v}" for k, v in node.stage.mode.items())
            )
            return f'["{_label(node.id)}<br/>approval ({_label(str(mode))})"]'
        if isinstance(node, ActionNode):
            return f'[["{_label(node.id)}<br/>{node.function}"]]'
        if isinstance(node, NotifyNode):
            return f'>"{_label(node.id)}<br/>notify"]'
        if isinstance(node, WaitNode):
            return f'(["{_label(node.id)}<br/>wait"])'
        if isinstance(node, BranchNode):
            return f'{{"{_label(node.id)}"}}'
        return f'[/"{_label(node.id)}<br/>parallel"/]'

    def sequence(self, seq: Sequence, entries: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Draw `seq`, linking from each (node, edge label) in `entries`; return the open exits."""
        for node in seq:
            entries = self.node(node, entries)
        return entries

    def link(self, entries: list[tuple[str, str]], target: str) -> None:
        for source, label in entries:
            arrow = f"-->|{_label(label)}|" if label else "-->"
            self.lines.append(f"    {source} {arrow} {target}")

    def node(self, node: IRNode, entries: list[tuple[str, str]]) -> list[tuple[str, str]]:
        nid = self.node_id()
        self.lines.append(f"    {nid}{self.shape(node)}")
        skip: list[tuple[str, str]] = []
        if node.when is not None:
            guard = self.node_id()
            self.lines.append(f'    {guard}{{"when?"}}')
            self.link(entries, guard)
            entries, skip = [(guard, "yes")], [(guard, "no")]
        self.link(entries, nid)
        exits = [(nid, "")]
        if isinstance(node, ApprovalNode):
            exits = [(nid, "approved")] + self.escalations(nid, node.stage)
        elif isinstance(node, BranchNode):
            exits = []
            for _, case in node.cases:
                exits += self.sequence(case, [(nid, "case")])
            exits += self.sequence(node.default, [(nid, "default")])
        elif isinstance(node, ParallelNode):
            join = self.node_id()
            self.lines.append(f'    {join}(("all approved"))')
            for branch in node.branches:
                self.link(self.sequence(branch, [(nid, "")]), join)
            exits = [(join, "")]
        return exits + skip

    def escalations(self, source: str, stage: Stage) -> list[tuple[str, str]]:
        then = stage.on_timeout
        if isinstance(then, Stage):
            esc = self.node_id()
            who = ", ".join(next(iter(a)) for a in then.approvers)
            self.lines.append(f'    {esc}["escalation: {_label(who)}"]')
            self.lines.append(f"    {source} -.->|timeout| {esc}")
            return [(esc, "approved")] + self.escalations(esc, then)
        if then == "approve":
            return [(source, "timeout: approve")]
        return []


def mermaid(ir: FlowIR) -> str:
    graph = _Graph()
    graph.lines.append("flowchart TD")
    graph.lines.append(f'    start(["{_label(ir.name)}"])')
    exits = graph.sequence(ir.steps, [("start", "")])
    graph.lines.append('    approved(["approved"])')
    graph.link(exits, "approved")
    return "\n".join(graph.lines) + "\n"
