"""The tree spec: a list of L nested partitions of the task set (method.md).

At depth d there is one block instance per group of P_d, fed by its parent group's block at
depth d-1. Independent models, the flat model, pair models with k shared blocks and any
hierarchy are all just specs."""

from __future__ import annotations

from dataclasses import dataclass

Group = tuple[str, ...]
Partition = tuple[Group, ...]


@dataclass(frozen=True)
class TreeSpec:
    tasks: tuple[str, ...]
    partitions: tuple[Partition, ...]

    def __post_init__(self):
        order = {t: i for i, t in enumerate(self.tasks)}
        if len(order) != len(self.tasks):
            raise ValueError(f"duplicate tasks in {self.tasks}")
        canon = []
        for d, part in enumerate(self.partitions, start=1):
            groups = [tuple(sorted(g, key=order.__getitem__)) for g in part]
            flat = sorted(t for g in groups for t in g)
            if flat != sorted(self.tasks) or any(not g for g in groups):
                raise ValueError(f"depth {d}: {part} is not a partition of {self.tasks}")
            canon.append(tuple(sorted(groups, key=lambda g: order[g[0]])))
        for d in range(1, len(canon)):
            for g in canon[d]:
                if not any(set(g) <= set(p) for p in canon[d - 1]):
                    raise ValueError(f"depth {d + 1}: group {g} splits across depth-{d} groups "
                                     "(partitions must nest)")
        object.__setattr__(self, "partitions", tuple(canon))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def independent(cls, tasks, depth: int) -> "TreeSpec":
        tasks = tuple(tasks)
        return cls(tasks, tuple(tuple((t,) for t in tasks) for _ in range(depth)))

    @classmethod
    def flat(cls, tasks, depth: int) -> "TreeSpec":
        tasks = tuple(tasks)
        return cls(tasks, tuple((tasks,) for _ in range(depth)))

    @classmethod
    def single(cls, task: str, depth: int) -> "TreeSpec":
        return cls.independent((task,), depth)

    @classmethod
    def pair(cls, a: str, b: str, shared: int, depth: int) -> "TreeSpec":
        """Two tasks sharing blocks 1..shared, separate after."""
        return cls((a, b), tuple((((a, b),) if d <= shared else ((a,), (b,)))
                                 for d in range(1, depth + 1)))

    @classmethod
    def from_json(cls, tasks, parts: list) -> "TreeSpec":
        return cls(tuple(tasks), tuple(tuple(tuple(g) for g in p) for p in parts))

    # ------------------------------------------------------------------ queries
    @property
    def depth(self) -> int:
        return len(self.partitions)

    def groups(self, d: int) -> Partition:
        """Groups at depth d (1-based)."""
        return self.partitions[d - 1]

    def parent(self, d: int, g: int) -> int:
        """Index of the depth d-1 group feeding group g of depth d (0 for the input at d=1)."""
        if d == 1:
            return 0
        first = self.partitions[d - 1][g][0]
        return next(i for i, p in enumerate(self.partitions[d - 2]) if first in p)

    def leaf(self, task: str) -> int:
        return next(i for i, g in enumerate(self.partitions[-1]) if task in g)

    def shared_depth(self, a: str, b: str) -> int:
        """How many leading blocks tasks a and b share."""
        n = 0
        for part in self.partitions:
            if any(a in g and b in g for g in part):
                n += 1
            else:
                break
        return n

    def shared_depth_of(self, task: str) -> int:
        """The deepest depth at which `task` shares its block with another task (0: none)."""
        return max((d for d in range(1, self.depth + 1)
                    if len(next(g for g in self.groups(d) if task in g)) > 1), default=0)

    def block_count(self) -> int:
        return sum(len(p) for p in self.partitions)

    def to_json(self) -> list:
        return [[list(g) for g in p] for p in self.partitions]

    def name(self) -> str:
        """A compact one-line form: depth partitions separated by '|', groups by '/'."""
        return " | ".join(" / ".join("+".join(g) for g in p) for p in self.partitions)

    def render(self, indent: str = "") -> str:
        """An indented text tree; chains of blocks shared by the same tasks are folded."""
        lines = [f"{indent}input"]

        def walk(d: int, g: int, prefix: str, last: bool):
            tasks = self.partitions[d - 1][g]
            end = d
            while end < self.depth and len(self._children(end, tasks)) == 1:
                end += 1
            blocks = f"block {d}" if end == d else f"blocks {d}-{end}"
            label = ", ".join(tasks)
            branch = "└─ " if last else "├─ "
            lines.append(f"{indent}{prefix}{branch}{blocks}: {label}")
            kids = self._children(end, tasks) if end < self.depth else []
            child_prefix = prefix + ("   " if last else "│  ")
            for i, c in enumerate(kids):
                walk(end + 1, c, child_prefix, i == len(kids) - 1)

        roots = list(range(len(self.partitions[0])))
        for i, g in enumerate(roots):
            walk(1, g, "", i == len(roots) - 1)
        return "\n".join(lines)

    def _children(self, d: int, tasks: Group) -> list[int]:
        return [i for i, g in enumerate(self.partitions[d]) if set(g) <= set(tasks)]
