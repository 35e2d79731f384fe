"""The synthetic WhoClickedIt stand-in: rows generated from a seeded model (``phantom data standin``).

The real ``whoclicked.csv`` cannot be downloaded where this book is built, so the project
ships a stand-in made here: seeded (``numpy.random.Generator``), byte-for-byte reproducible,
with the published 42-column schema and the data card's counts matched exactly (rows, record
types per actor, sessions and experiments per actor, store modes, the eight event counts, the
time range to the second). Everything else is a modelling choice documented below and in
``data/README.md``; none of it is tuned to the study's findings.

How a stand-in is made (:func:`generate`):

1. **Event mix per class.** The card gives event totals over both classes only. Each class's
   expected event frequencies under its kernel (below) are fitted to the card's margins
   (class totals x event totals) by iterative proportional fitting and rounded by largest
   remainder (:func:`event_split`).
2. **Trajectories.** Each experiment's length is ``min_length + Multinomial(rest,
   Dirichlet(concentration))``; its events are a Markov path of the class kernel
   (``kernels.sample_paths``). The few events by which the sampled mix misses the class's
   target are substituted where the kernel finds the substitute most plausible
   (:func:`_repair`), so counts are exact and transitions stay kernel-like.
3. **Sessions.** Human experiments are cut into sessions at random positions (25 sessions
   for 13 experiments: people reload or switch tabs); agent experiments run back to back in a
   few long browser sessions (7 sessions for 16 experiments).
4. **Products, pages, metadata.** Agents walk the catalogue in order; humans pick products by
   popularity and return to ones they saw. Prices follow the collection-time surge/discount
   rule on the omega-weighted demand of the last 24 h (``events.surge_discount_prices``).
5. **Times.** Inter-event times are log-normal with a median per source event and class;
   experiments/sessions are spread over the card's time range, first row at its start and
   last row at its end.
6. **Price logs** (quotes shown) are spread over each class's interactions in proportion to
   a per-event weight; their totals per actor and store make the card's store counts exact.

The two generating kernels (rows = current event, columns = next event) are
:data:`phantom_lib.standin.model.AGENT` (fast, regular, systematic: listing -> item -> details -> cart, many item views,
barely any hovering) and :data:`~phantom_lib.standin.model.HUMAN` (slower, bursty, hover and read titles and paragraphs,
go back to the listing after most item pages).
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from phantom_lib.behaviour import kernels
from phantom_lib.data import events
from phantom_lib.data.schema import COLUMNS, INTERACTION, PRICE_LOG, STANDIN_HEADER
from phantom_lib.standin.catalogue import (
    AGENT_UAS,
    HUMAN_UAS,
    PARAGRAPHS,
    REFERRERS,
    SECTIONS,
    Catalogue,
    lookup,
    prices_for,
    product_walk,
    uuids,
)
from phantom_lib.standin.catalogue import (
    catalogues as make_catalogues,
)
from phantom_lib.standin.model import (
    ADD,
    ADMIN,
    CLASS_TOTALS,
    CO,
    END,
    EVENTS,
    HP,
    HT,
    KERNELS,
    LM,
    PV,
    RM,
    START,
    STORE_EXPERIMENTS,
    STORE_ROWS,
    VI,
    BehaviourKernel,
    StandinConfig,
    apportion,
    event_split,
    generating_kernels,
)


def _repair(codes: npt.NDArray[np.int64], starts: npt.NDArray[np.bool_], target: npt.NDArray[np.int64],
            kernel: BehaviourKernel, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Substitute the fewest events so that ``bincount(codes) == target``.

    Surplus events of type o become deficit type u at the positions where the kernel finds
    u most plausible relative to o (log P(prev -> x) + log P(x -> next), pi0 at a start).
    """
    codes = codes.copy()
    ends = np.append(starts[1:], True)
    log_t = np.log(kernel.matrix + 1e-4)
    log_pi = np.log(kernel.pi0 + 1e-4)
    diff = np.bincount(codes, minlength=len(EVENTS)) - target
    givers = [(o, int(d)) for o, d in enumerate(diff) if d > 0]
    takers = [(u, int(-d)) for u, d in enumerate(diff) if d < 0]
    while givers and takers:
        (o, have), (u, need) = givers[0], takers[0]
        k = min(have, need)
        pos = np.flatnonzero(codes == o)
        prev = codes[np.maximum(pos - 1, 0)]
        nxt = codes[np.minimum(pos + 1, len(codes) - 1)]

        def score(x: int) -> npt.NDArray[np.float64]:
            into = np.where(starts[pos], log_pi[x], log_t[prev, x])
            return into + np.where(ends[pos], 0.0, log_t[x, nxt])

        gain = score(u) - score(o) + 1e-6 * rng.random(pos.size)
        codes[pos[np.argsort(-gain, kind="stable")[:k]]] = u
        givers[0], takers[0] = (o, have - k), (u, need - k)
        givers = [g for g in givers if g[1] > 0]
        takers = [t for t in takers if t[1] > 0]
    return codes


def _class_paths(kernel: BehaviourKernel, n: int, total: int, target: npt.NDArray[np.int64],
                 rng: np.random.Generator) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Experiment lengths (n,) and their concatenated event codes (total,) with exact counts."""
    spare = total - n * kernel.min_length
    if spare < 0:
        raise ValueError(f"{total} events cannot fill {n} experiments of at least {kernel.min_length}")
    lengths = kernel.min_length + rng.multinomial(spare, rng.dirichlet(np.full(n, kernel.length_concentration)))
    paths = kernels.sample_paths(kernel.matrix, kernel.pi0, n, rng, max_len=int(lengths.max()))
    codes = paths[np.arange(paths.shape[1])[None, :] < lengths[:, None]]
    starts = np.zeros(total, dtype=bool)
    starts[np.cumsum(lengths) - lengths] = True
    return lengths, _repair(codes, starts, target, kernel, rng)



def _cut(sizes: npt.NDArray[np.int64], pieces: int, rng: np.random.Generator,
         allowed: npt.NDArray[np.bool_] | None = None) -> npt.NDArray[np.bool_]:
    """Split consecutive groups of ``sizes`` items into ``pieces`` contiguous pieces in all:
    every group starts a piece and ``pieces - len(sizes)`` more cuts fall uniformly at random
    among the inner positions (those ``allowed``, if given). Returns a flag per item: True
    where a piece starts."""
    n = int(sizes.sum())
    first = np.zeros(n, dtype=bool)
    first[np.cumsum(sizes) - sizes] = True
    inner = np.flatnonzero(~first & (True if allowed is None else allowed))
    first[rng.choice(inner, size=pieces - len(sizes), replace=False)] = True
    return first


def _skeleton(config: StandinConfig, rng: np.random.Generator) -> pd.DataFrame:
    """One row per interaction (admin views included): actor, experiment, session, block, code."""
    s = config.scale
    split = event_split(config)
    generating = generating_kernels(config)
    parts = []
    experiment_base = session_base = 0
    for actor in ("human", "agent"):
        totals = CLASS_TOTALS[actor]
        n_exp, n_sess = totals["experiments"] * s, totals["sessions"] * s
        n_admin = config.admin_views * s if actor == "human" else 0
        lengths, codes = _class_paths(generating[actor], n_exp, int(split[actor].sum()), split[actor], rng)
        experiment = np.repeat(np.arange(n_exp), lengths)
        if n_admin:  # an operator opens the admin page before some human experiments
            chosen = np.sort(rng.choice(n_exp, size=n_admin, replace=False))
            at = (np.cumsum(lengths) - lengths)[chosen]
            codes = np.insert(codes, at, ADMIN)
            experiment = np.insert(experiment, at, chosen)
            lengths = np.bincount(experiment, minlength=n_exp)
        if actor == "human":  # experiments are blocks; sessions cut them
            after_admin = np.roll(codes == ADMIN, 1)  # the admin view opens the first session
            new_session = _cut(lengths, n_sess, rng, allowed=~after_admin)
            session = np.cumsum(new_session) - 1
            block, chunk_start = experiment, new_session
        else:  # sessions are blocks; experiments run back to back inside them
            session_of_exp = np.cumsum(_cut(np.array([n_exp]), n_sess, rng)) - 1
            session = session_of_exp[experiment]
            block = session
            chunk_start = np.zeros(codes.size, dtype=bool)
            chunk_start[np.cumsum(lengths) - lengths] = True
        parts.append(pd.DataFrame({
            "actor": actor,
            "experiment": experiment + experiment_base,
            "session": session + session_base,
            "block": f"{actor}-" + pd.Series(block).astype("str"),
            "code": codes,
            "chunk_start": chunk_start,
        }))
        experiment_base += n_exp
        session_base += int(session.max()) + 1
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- generation


def _lognormal(rng: np.random.Generator, median: npt.ArrayLike, sigma: float, size: int) -> npt.NDArray[np.float64]:
    return np.asarray(median, dtype=float) * np.exp(sigma * rng.standard_normal(size))


def _assign_stores(table: pd.DataFrame, config: StandinConfig,
                   rng: np.random.Generator) -> tuple[npt.NDArray[np.object_], dict[str, dict[str, int]]]:
    """A store for each row (by its experiment, following :data:`STORE_EXPERIMENTS`) and the
    price logs per actor and store that make the card's store rows exact. Assignments that
    leave the small stores too little room for quotes are redrawn."""
    s = config.scale
    sizes = table.groupby(["actor", "experiment"]).size()
    for _ in range(1000):
        store_of: dict[int, str] = {}
        for actor, plan in STORE_EXPERIMENTS.items():
            ids = sizes.loc[actor].index.to_numpy()
            labels = np.repeat(np.array(list(plan), dtype=object), [n * s for n in plan.values()])
            store_of.update(zip(ids.tolist(), rng.permutation(labels).tolist()))
        store = table["experiment"].map(store_of)
        logs = _price_logs_per_store(table.groupby([table["actor"], store]).size(), s)
        if logs is not None:
            return store.to_numpy(dtype=object), logs
    raise RuntimeError("no store assignment reaches the card's store counts; check STORE_EXPERIMENTS")


def _price_logs_per_store(interactions: pd.Series, s: int) -> dict[str, dict[str, int]] | None:
    """Price logs per (actor, store) so that every store's rows match the card, or None if the
    interactions already placed leave a store (other than hotel) less than 40% for quotes."""
    logs: dict[str, dict[str, int]] = {a: {} for a in CLASS_TOTALS}
    rate = {a: CLASS_TOTALS[a]["price_log"] / CLASS_TOTALS[a]["interaction"] for a in CLASS_TOTALS}
    for store in ("airline", "shop"):
        actors = [a for a in CLASS_TOTALS if (a, store) in interactions.index]
        room = STORE_ROWS[store] * s - sum(int(interactions[(a, store)]) for a in actors)
        if room < 0.4 * STORE_ROWS[store] * s:
            return None
        shares = apportion([rate[a] * interactions[(a, store)] for a in actors], room)
        logs.update({a: {**logs[a], store: int(n)} for a, n in zip(actors, shares)})
    for actor, totals in CLASS_TOTALS.items():
        logs[actor]["hotel"] = totals["price_log"] * s - sum(logs[actor].values())
        if logs[actor]["hotel"] < 0:
            return None
    return logs


def _block_times(table: pd.DataFrame, code: npt.NDArray[np.int64],
                 rng: np.random.Generator) -> tuple[npt.NDArray[np.float64], ...]:
    """Milliseconds of each row from the start of its block (a human's experiment, an agent's
    session), the seconds until the row's next event, and hover dwell times (ms, 0 if none)."""
    n = len(table)
    gap, dwell_ms, pause = np.empty(n), np.zeros(n), np.zeros(n)
    behaviour = code >= 0
    for actor, kernel in KERNELS.items():
        mine = (table["actor"] == actor).to_numpy()
        gap[mine] = _lognormal(rng, kernel.gap_median_s[np.where(behaviour, code, 0)[mine]], kernel.gap_sigma,
                               int(mine.sum()))
        hover = mine & np.isin(code, (HT, HP))
        dwell_ms[hover] = np.round(_lognormal(rng, kernel.dwell_median_ms, kernel.dwell_sigma, int(hover.sum())))
        gap[hover] = np.maximum(gap[hover], dwell_ms[hover] / 1000 + 0.2)
        new_chunk = mine & table["chunk_start"].to_numpy()
        pause[new_chunk] = _lognormal(rng, kernel.new_chunk_gap_median_s, kernel.new_chunk_gap_sigma,
                                      int(new_chunk.sum()))
    gap[~behaviour] = _lognormal(rng, 45.0, 0.5, int((~behaviour).sum()))  # operator on the admin page
    block = table["block"].to_numpy()
    first = np.r_[True, block[1:] != block[:-1]]
    step = np.where(first, 0.0, np.roll(gap, 1) + pause)
    rel_ms = np.round(pd.Series(step).groupby(block, sort=False).cumsum().to_numpy() * 1000)
    return rel_ms, gap, dwell_ms


def _quote_events(table: pd.DataFrame, code: npt.NDArray[np.int64], logs_per_store: dict[str, dict[str, int]],
                  rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """For each price log, the row of the interaction it was shown with: each (actor, store)
    total spread over that group's behavioural events in proportion to ``price_weight``."""
    chosen = []
    for actor, kernel in KERNELS.items():
        for store, count in logs_per_store[actor].items():
            mine = (table["actor"] == actor).to_numpy() & (table["store"] == store).to_numpy()
            rows = np.flatnonzero(mine & (code >= 0))
            weight = kernel.price_weight[code[rows]]
            chosen.append(np.repeat(rows, rng.multinomial(count, weight / weight.sum())))
    return np.concatenate(chosen)


def _calendar_starts(
    block_index: npt.NDArray[np.int64], rel_ms: npt.NDArray[np.float64], rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Start of each block, ms after :data:`START`: uniform over the range, except that one
    block starts at START and another ends exactly at END."""
    length_ms = pd.Series(rel_ms).groupby(block_index).max().to_numpy()
    span = int((END - START).total_seconds() * 1000)
    order = rng.permutation(length_ms.size)
    start_ms = np.floor(rng.uniform(0, 1, length_ms.size) * (span - length_ms)).astype(np.int64)
    start_ms[order[0]] = 0
    start_ms[order[-1]] = span - int(length_ms[order[-1]])
    return start_ms


def generate(config: StandinConfig = StandinConfig()) -> pd.DataFrame:
    """The stand-in as text columns in file order (:data:`phantom_lib.data.COLUMNS`).

    Deterministic in ``config``: the same seed and scale give the same frame.
    """
    rng = np.random.default_rng(config.seed)
    catalogues = make_catalogues(rng)
    table = _skeleton(config, rng)
    store, logs_per_store = _assign_stores(table, config, rng)
    table = table.assign(store=store)
    code = table["code"].to_numpy()
    rel_ms, gap, dwell_ms = _block_times(table, code, rng)
    log_event = _quote_events(table, code, logs_per_store, rng)
    offset = np.maximum(1, np.round(rng.uniform(0.05, 0.95, log_event.size) * gap[log_event] * 1000))
    log_rel_ms = rel_ms[log_event] + offset  # a quote appears between its event and the next one
    _, block_index = np.unique(table["block"].to_numpy(), return_inverse=True)
    start_ms = _calendar_starts(np.r_[block_index, block_index[log_event]], np.r_[rel_ms, log_rel_ms], rng)
    t0 = START.value // 1_000_000
    ts_ms = t0 + start_ms[block_index] + rel_ms.astype(np.int64)
    log_ts_ms = t0 + start_ms[block_index[log_event]] + log_rel_ms.astype(np.int64)
    interactions, demand = _interaction_columns(table, code, ts_ms, dwell_ms, catalogues, rng)
    quotes = _price_log_columns(interactions, demand, log_event, log_ts_ms, catalogues, rng)
    frame = _finish(pd.concat([interactions, quotes], ignore_index=True), catalogues, rng)
    frame["kafka_headers"] = marker(config)
    return frame


def marker(config: StandinConfig) -> str:
    """The ``kafka_headers`` value of every generated row: one Kafka header whose key is
    :data:`~phantom_lib.data.schema.STANDIN_HEADER` (the generator) and whose value is its
    configuration. The loader labels any row carrying it synthetic, whatever the file is called."""
    value = f"seed={config.seed} scale={config.scale} admin_views={config.admin_views}"
    return json.dumps([{"key": STANDIN_HEADER, "value": value}], separators=(",", ":"))


def _interaction_columns(
    table: pd.DataFrame,
    code: npt.NDArray[np.int64],
    ts_ms: npt.NDArray[np.int64],
    dwell_ms: npt.NDArray[np.float64],
    catalogues: dict[str, Catalogue],
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Interaction rows (internal form: ints for ids and products, numbers unformatted) and
    the demand table that drives prices."""
    n = len(table)
    experiment = table["experiment"].to_numpy()
    store = table["store"].to_numpy(dtype=object)
    is_agent = (table["actor"] == "agent").to_numpy()
    product, on_item = product_walk(table, code, catalogues, rng)
    behaviour = code >= 0
    names = np.array(EVENTS, dtype=object)[np.where(behaviour, code, 0)]
    names[~behaviour] = "page_view"
    has_product = behaviour & (product >= 0)
    demand = pd.DataFrame(
        {
            "store": store[has_product],
            "product": product[has_product],
            "ts_ms": ts_ms[has_product],
            "weight": events.weights_of(names[has_product]),
        }
    )
    shown = np.isin(code, (VI, LM, ADD))
    price = np.where(shown, prices_for(catalogues, store, np.where(shown, product, -1), ts_ms, demand), np.nan)

    after_admin = np.roll(code, 1) == ADMIN
    landing = (code == PV) & (table["chunk_start"].to_numpy() | after_admin)
    root = "/" + store  # object arrays: elementwise string concatenation
    page = np.select(
        [~behaviour, landing, on_item & (product >= 0), code == RM, code == CO],
        [
            "/admin/experiments",
            root,
            root + "/products/" + lookup(catalogues, "ids", store, product),
            root + "/cart",
            root + "/checkout",
        ],
        root + "/products",
    ).astype(object)

    cart_step = np.select([code == ADD, code == RM], [1.0, -1.0], 0.0)
    cart_value = np.select(
        [code == ADD, code == RM],
        [
            np.nan_to_num(price),
            -np.nan_to_num(prices_for(catalogues, store, np.where(code == RM, product, -1), ts_ms, demand)),
        ],
        0.0,
    )
    item_count = np.maximum(pd.Series(cart_step).groupby(experiment).cumsum().to_numpy(), 0)
    cart_total = np.maximum(pd.Series(cart_value).groupby(experiment).cumsum().to_numpy(), 0)
    n_exp = experiment.max() + 1
    nights = rng.integers(1, 6, size=n_exp)[experiment].astype(float)
    date_index = rng.integers(0, 14, size=n_exp)[experiment].astype(float)
    flight_type = rng.choice(np.array(["one_way", "return"], dtype=object), size=n_exp)[experiment]
    section = rng.choice(np.array(SECTIONS, dtype=object), size=n)
    referrer = rng.choice(np.array(("",) + REFERRERS, dtype=object), size=n)

    def where(mask: npt.NDArray[np.bool_], values: npt.ArrayLike, empty: object = "") -> npt.NDArray[np.object_]:
        out = np.full(n, empty, dtype=object)
        out[mask] = np.asarray(values, dtype=object)[mask] if np.ndim(values) else values
        return out

    hotel, airline = store == "hotel", store == "airline"
    offer = np.isin(code, (VI, ADD))
    kind, fare, title = (lookup(catalogues, field, store, product) for field in ("kind", "fare", "names"))
    paragraph = np.array(PARAGRAPHS, dtype=object)[np.maximum(product, 0) % len(PARAGRAPHS)]
    numbers = dict(
        metadata_dateIndex=np.where(airline & np.isin(code, (VI, ADD, CO)), date_index, np.nan),
        metadata_dwellTime=np.where(np.isin(code, (HT, HP)), dwell_ms, np.nan),
        metadata_itemCount=np.where(np.isin(code, (ADD, RM, CO)), item_count, np.nan),
        metadata_nights=np.where(hotel & np.isin(code, (VI, ADD, CO)), nights, np.nan),
        metadata_price=price,
        metadata_total=np.where(code == CO, cart_total, np.nan),
    )
    text = dict(
        metadata_cabinClass=where(airline & offer, kind),
        metadata_elementText=where(code == HT, title) + where(code == HP, paragraph),
        metadata_fareRule=where(airline & offer, fare),
        metadata_flightType=where(airline & np.isin(code, (VI, ADD, CO)), flight_type),
        metadata_referrer=where(landing & ~is_agent, referrer),
        metadata_roomType=where(hotel & offer, kind),
        metadata_type=where(code == PV, np.where(landing, "landing", "listing"))
        + where(code == LM, section)
        + where(~behaviour, "admin"),
    )
    frame = pd.DataFrame(
        {
            "actor": table["actor"].to_numpy(),
            "session": table["session"].to_numpy(),
            "experiment": experiment,
            "store": store,
            "record_type": INTERACTION,
            "ts_ms": ts_ms,
            "eventName": names,
            "page": page,
            "product": product,
            "price": np.nan,
            **numbers,
            **text,
        }
    )
    return frame, demand


def _price_log_columns(
    interactions: pd.DataFrame,
    demand: pd.DataFrame,
    log_event: npt.NDArray[np.int64],
    log_ts_ms: npt.NDArray[np.int64],
    catalogues: dict[str, Catalogue],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Price-log rows: the quotes shown with an event. Events on a product quote it; listing
    pages and checkouts quote the catalogue's products in turn."""
    store = interactions["store"].to_numpy(dtype=object)[log_event]
    size = np.array([catalogues[s].ids.size for s in store])
    rank = pd.Series(log_event).groupby(log_event).cumcount().to_numpy()
    start = rng.integers(0, 1 << 30, size=len(interactions))[log_event]
    own = interactions["product"].to_numpy()[log_event]
    product = np.where(own >= 0, own, (start + rank) % size)
    price = prices_for(catalogues, store, product, log_ts_ms, demand)
    return pd.DataFrame(
        {
            "actor": interactions["actor"].to_numpy()[log_event],
            "session": interactions["session"].to_numpy()[log_event],
            "experiment": interactions["experiment"].to_numpy()[log_event],
            "store": store,
            "record_type": PRICE_LOG,
            "ts_ms": log_ts_ms,
            "eventName": "",
            "page": "",
            "product": product,
            "price": price,
        }
    )


def _fixed(values: npt.ArrayLike, decimals: int) -> npt.NDArray[np.object_]:
    """Numbers as fixed-point text (``decimals`` places), "" where NaN."""
    arr = np.asarray(values, dtype=float)
    out = np.full(arr.shape, "", dtype=object)
    ok = ~np.isnan(arr)
    out[ok] = np.char.mod(f"%.{decimals}f", arr[ok]).astype(object)
    return out


def _finish(frame: pd.DataFrame, catalogues: dict[str, Catalogue], rng: np.random.Generator) -> pd.DataFrame:
    """Ids, user agents, Kafka envelope, text formatting and file order."""
    n = len(frame)
    sessions = int(frame["session"].max()) + 1
    session_id = uuids(rng, sessions)
    experiment_id = uuids(rng, int(frame["experiment"].max()) + 1)
    session_actor = frame.groupby("session")["actor"].first().reindex(range(sessions)).to_numpy()
    ua = np.where(
        session_actor == "agent",
        rng.choice(np.array(AGENT_UAS, dtype=object), size=sessions),
        rng.choice(np.array(HUMAN_UAS, dtype=object), size=sessions),
    )
    session = frame["session"].to_numpy()
    interaction = (frame["record_type"] == INTERACTION).to_numpy()
    store = frame["store"].to_numpy(dtype=object)
    product = frame["product"].to_numpy()
    product_id = lookup(catalogues, "ids", store, product)
    ts_ms = frame["ts_ms"].to_numpy(dtype=np.int64)
    ts = np.char.add(np.datetime_as_string(ts_ms.astype("datetime64[ms]"), unit="ms"), "Z").astype(object)

    partition = session % 3
    record_code = interaction.astype(np.int64)
    by_time = np.lexsort((np.arange(n), ts_ms, partition, record_code))
    group_start = np.r_[True, (np.diff(partition[by_time]) != 0) | (np.diff(record_code[by_time]) != 0)]
    rank = np.arange(n) - np.maximum.accumulate(np.where(group_start, np.arange(n), 0))
    offset = np.empty(n, dtype=np.int64)
    offset[by_time] = rank
    user_agent = np.where(interaction, ua[session], "")
    key = session_id[session]
    body = pd.Series(frame["page"].to_numpy(dtype=object) + product_id + user_agent).str.len().to_numpy()
    value_size = np.where(interaction, 190 + body, 120 + pd.Series(product_id).str.len().to_numpy())

    columns = {
        "actor_type": frame["actor"].to_numpy(dtype=object),
        "is_agent": np.where(frame["actor"].to_numpy() == "agent", "1", "0").astype(object),
        "record_type": frame["record_type"].to_numpy(dtype=object),
        "sessionId": key,
        "experimentId": experiment_id[frame["experiment"].to_numpy()],
        "storeMode": store,
        "ts": ts,
        "eventName": frame["eventName"].to_numpy(dtype=object),
        "page": frame["page"].to_numpy(dtype=object),
        "productId": product_id,
        "price": _fixed(frame["price"], 2),
        "userAgent": user_agent.astype(object),
        "kafka_partition_id": partition.astype(str).astype(object),
        "kafka_offset": offset.astype(str).astype(object),
        "kafka_timestamp_ms": (ts_ms + rng.integers(3, 60, size=n)).astype(str).astype(object),
        "kafka_compression": "uncompressed",
        "kafka_is_transactional": "False",
        "kafka_headers": "[]",
        "kafka_key_encoding": "text",
        "kafka_key_isPayloadNull": "False",
        "kafka_key_payload": key,
        "kafka_key_schemaId": "",
        "kafka_key_size": pd.Series(key).str.len().astype(str).to_numpy(dtype=object),
        "kafka_key_troubleshootReport": "",
        "kafka_value_encoding": "json",
        "kafka_value_isPayloadNull": "False",
        "kafka_value_schemaId": "",
        "kafka_value_size": value_size.astype(str).astype(object),
        "kafka_value_troubleshootReport": "",
    }
    for name in COLUMNS:
        if name.startswith("metadata_"):
            values = frame[name]
            if name in ("metadata_price", "metadata_total"):
                columns[name] = _fixed(values, 2)
            elif values.dtype.kind == "f":
                columns[name] = _fixed(values, 0)
            else:
                columns[name] = values.fillna("").to_numpy(dtype=object)
    out = pd.DataFrame({name: columns[name] for name in COLUMNS}, dtype=object)
    order = np.lexsort((np.arange(n), ts_ms, ~interaction, key.astype(str), frame["actor"].to_numpy() == "agent"))
    return out.iloc[order].reset_index(drop=True)


# --------------------------------------------------------------------------- files and the command


def to_bytes(frame: pd.DataFrame, compress: bool) -> bytes:
    """The frame as CSV bytes (UTF-8, ``\\n`` line ends); gzip with a zero timestamp and no
    file name when ``compress``, so equal frames give equal bytes."""
    text = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    if not compress:
        return text
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
        handle.write(text)
    return buffer.getvalue()


def write(path: str | Path, config: StandinConfig = StandinConfig(), overwrite: bool = False) -> Path:
    """Generate the stand-in and write it to ``path`` (gzip when the name ends in ``.gz``).

    An existing file is replaced only with ``overwrite=True`` (``phantom data standin --force``),
    so the shipped stand-in every chapter reads is never overwritten by accident.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder: give a file name, e.g. {path / 'whoclicked_standin.csv.gz'}")
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} already exists: choose another file, or pass --force (overwrite=True) to replace it"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(to_bytes(generate(config), compress=path.suffix == ".gz"))
    return path
