"""The launcher: N vaults on one transport, with add / kill / restart, for tests, the CLI and the
dashboard. This is the public library surface (`vaultnet.Testnet`)."""

from __future__ import annotations

import hashlib
import ipaddress
import math
import os
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import trio

from vaultnet.client.maid import MaidClient, open_client
from vaultnet.client.mpid import MpidClient, open_mpid_client
from vaultnet.identity import KEY_FILE, Identity, write_secret
from vaultnet.routing import Parameters
from vaultnet.runtime import descriptors, inspection, invariants
from vaultnet.runtime import events as ev
from vaultnet.runtime.core import Timing
from vaultnet.runtime.errors import TestnetError as TestnetError  # the public name
from vaultnet.runtime.faults import Fault, FaultError, apply_fault, parse_fault
from vaultnet.runtime.host import DEFAULT_CAPACITY as DEFAULT_CAPACITY  # the public default
from vaultnet.runtime.host import PersonaHost
from vaultnet.runtime.vault import Vault, closest_of
from vaultnet.runtime.worker_pool import PIPE_DESCRIPTORS, WorkerPool, shares, vault_row
from vaultnet.transport.base import AdmissionRefused, Endpoint, TransportError
from vaultnet.transport.channel import NETWORK_KEY_SIZE
from vaultnet.transport.sim import SimConfig, SimNetwork, deterministic_scheduling
from vaultnet.transport.tcp import TcpEndpoint
from vaultnet.xor import Name, bucket_index, closest

TRANSPORTS = ("tcp", "sim")
DEFAULT_HOST = "127.0.0.1"
"""The address TCP vaults listen on and advertise unless told another (`host=`)."""
SETTLE_TIMEOUT = 60.0
CHECK_EVERY = 0.1
"""Seconds (simulated under autojump) between checks of an invariant while waiting for it:
checking after every event costs more than the network itself at hundreds of chunks."""
TRUE_GROUPS_KEPT = 65_536
"""`true_close_group` answers remembered while the live vaults stay the same (forgotten
when full): a check over hundreds of chunks asks for each copy's group at every poll."""
VAULT_DIR_PREFIX = "vault-"
NETWORK_KEY_FILE = "network.key"


class TooFewDescriptors(TestnetError):
    """The process may not open the file descriptors the testnet needs at its vaults'
    connection caps (`vaultnet.runtime.descriptors`), even with its soft limit raised to the
    hard one: `.needed` and `.available` say by how much."""

    def __init__(self, shortage: descriptors.Shortage) -> None:
        self.needed = shortage.needed
        self.available = shortage.available
        super().__init__(f"too many vaults for this process: {shortage}")


class JoinRefused(TestnetError):
    """A testnet told to join another (`join=`) could not: the vault there refused our network
    key, or nothing there answered; nothing of ours is left running."""


class NotSettled(TestnetError):
    """The network did not reach the condition in time."""


class InvariantsViolated(NotSettled):
    """An invariant still did not hold at the deadline: `.violations` are the typed records
    of what was wrong (see `vaultnet.runtime.invariants`); the message names the first few."""

    def __init__(self, what: str, timeout: float,
                 violations: Iterable[invariants.Violation]) -> None:
        self.violations = tuple(violations)
        super().__init__(f"{what} not reached within {timeout:g}s: {len(self.violations)} "
                         f"violations: {invariants.describe(self.violations)}")


class Testnet:
    """N vaults plus the means to change them while they run.

    ```python
    async with vaultnet.Testnet(vaults=16, transport="tcp") as net:
        vault = net.vaults[0]
        vault.close_group(name)
        await net.add_vault(); await net.kill_vault(vault.name); await net.restart_vault(name)
        async for event in net.events(): ...
        net.holders(chunk); net.account(client); await net.wait_replicated([chunk])
    ```
    The inspection methods (`holders`, `stored_copies`, `account`, `rank`, `version_tree`, ...)
    only read: they return frozen records (`vaultnet.runtime.inspection`), and the waits check
    `vaultnet.runtime.invariants`. A chunk is 3 copies (Primary, Backup, Sacrificial) on 2 holders
    each: 6 stored copies when fully replicated (`net.parameters.copies_per_chunk`).

    With `transport="sim"` run it under trio's MockClock (pytest-trio's `autojump_clock`): the
    same seed then reproduces the same event trace.

    Its vaults only admit vaults holding the same 32-byte network key (`net.network_key`):
    `network_key=` if given, else the data directory's `network.key`, created (mode 0600) on
    first use and kept, so a restarted testnet keeps its key. A seeded simulator testnet derives
    a new key from its seed instead of the system's randomness, so that its runs reproduce byte
    for byte (nothing outside the process can reach it). Clients need no key.

    Before it opens anything it reserves the file descriptors its vaults need at their
    connection caps (`vaultnet.runtime.descriptors`, plus `reserved_descriptors` the caller
    holds besides, such as a control port), raising the soft limit toward the hard one:
    TooFewDescriptors if they cannot fit, here and in `add_vault`.

    TCP vaults listen on, and advertise, `host` (an IP address, 127.0.0.1 by default). With
    `join=[address, ...]` (vaults of a running testnet, in any process, on any host) the vaults
    join that network instead of starting one: they need its `network_key`, and JoinRefused says
    why if the first one cannot get in. Such a testnet's oracle (`converged`,
    `true_close_group`, the inspection methods) knows only the vaults of this process, so it
    waits only for each of them to have joined, not for the network's routing to converge.

    With `processes=P` (TCP only) the vaults are shared out over this process and P-1 worker
    processes (`vaultnet.runtime.worker_pool`), each with its own trio loop, whose vaults join
    ours over TCP. Their events come onto `net.bus` with ours, `vault_rows()` describes every
    vault whichever process runs it (its own proximity set included), and `net.workers.on_vault`
    kills, restarts or faults a worker's vault. Everything else (`vaults`, `kill_vault`, the
    clients' bootstrap, the inspection methods) is this process's share only.
    """

    __test__ = False

    def __init__(self, vaults: int = 16, transport: str = "tcp", seed: int | None = None,
                 data_dir: str | Path | None = None, params: Parameters | None = None,
                 timing: Timing | None = None, sim_config: SimConfig | None = None,
                 capacity: int = DEFAULT_CAPACITY, network_key: bytes | None = None,
                 reserved_descriptors: int = 0, host: str = DEFAULT_HOST,
                 join: Sequence[str] = (), processes: int = 1) -> None:
        if transport not in TRANSPORTS:
            raise TestnetError(f"unknown transport {transport!r} (choose tcp or sim)")
        check_host(host)
        if join and transport != "tcp":
            raise TestnetError("only a tcp testnet can join another")
        if vaults < 1:
            raise TestnetError("a testnet needs at least one vault")
        if not 1 <= processes <= vaults:
            raise TestnetError(f"processes must be between 1 and the number of vaults "
                               f"({vaults}), not {processes}")
        if processes > 1 and transport != "tcp":
            raise TestnetError("vaults in several processes talk TCP: use transport='tcp'")
        if capacity < 1:
            raise TestnetError("capacity must be a positive number of bytes")
        if network_key is not None and len(network_key) != NETWORK_KEY_SIZE:
            raise TestnetError(f"a network key is {NETWORK_KEY_SIZE} bytes, not "
                               f"{len(network_key)}")
        self.capacity = capacity
        self.shares = shares(vaults, processes)
        """Vaults per process, ours first (the largest share)."""
        self.initial_vaults = self.shares[0]
        self.transport = transport
        self.reserved_descriptors = reserved_descriptors + PIPE_DESCRIPTORS * (processes - 1)
        self.host = host
        self.join = list(join)
        if processes > 1:  # a worker inherits our limits: its share must fit them too
            reserve_descriptors(descriptors.needed(self.shares[1], transport))
        self._reserve_descriptors(self.initial_vaults)
        self.seed = seed
        self.params = params or Parameters()
        self.timing = timing or Timing()
        self.rng = random.Random(seed)
        self.bus = ev.EventBus()
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="vaultnet-"))
        self.network_key = network_key or self._load_network_key()
        self.sim = SimNetwork(seed or 0, sim_config) if transport == "sim" else None
        self.vaults: list[Vault] = []
        self.workers = WorkerPool(self.bus)
        """The worker processes running the other shares (none unless `processes` > 1)."""
        self._mpid_connects = 0
        self._client_reconnects = 0
        self._dirs: dict[Name, Path] = {}
        self._nursery: trio.Nursery | None = None
        self._nursery_cm: AbstractAsyncContextManager[trio.Nursery] | None = None
        self._count = 0
        self._converged_over: tuple[Name, ...] = ()
        self._converged_views: dict[Name, tuple[int, bool]] = {}
        """`converged`'s answer per vault over `_converged_over` (the live vaults then), with
        the version of the vault's table it was computed for."""
        self._true_groups: dict[Name, tuple[Name, ...]] = {}
        """`true_close_group`'s answers over the live vaults now (emptied when they change)."""

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Testnet:
        if self.sim is not None:
            deterministic_scheduling(self.seed or 0)
        self._nursery_cm = trio.open_nursery()
        self._nursery = await self._nursery_cm.__aenter__()
        try:
            count = max(self.initial_vaults, self._kept_vaults())
            self._reserve_descriptors(count)
            if self.sim is not None:
                self._nursery.start_soon(self.sim.run)
            if self.join:
                await self._join_network(count)
            else:
                first = await self._start_vault()
                await self._boot(count - 1, [first.address])
                await self.wait_converged()
            if len(self.shares) > 1:
                await self.workers.start(self._nursery, self.shares[1:], {
                    "network_key": self.network_key, "host": self.host,
                    "join": [self.vaults[0].address], "seed": self.seed,
                    "capacity": self.capacity}, self.data_dir)
        except TestnetError:  # ours, raised here: the caller gets it, not a group around it
            await self.__aexit__(None, None, None)
            raise
        except BaseException as exc:
            await self.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> Literal[False]:
        assert self._nursery is not None and self._nursery_cm is not None
        self._nursery.cancel_scope.cancel()
        try:
            await self._nursery_cm.__aexit__(exc_type, exc, tb)
        finally:
            if self._own_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)
        return False

    async def _boot(self, count: int, bootstrap: list[str], must_join: bool = False) -> None:
        """Start `count` vaults joining through `bootstrap`, in rounds that at most double our
        vaults: a vault's join is a chain of round trips, so one at a time made 128 simulated
        vaults spend 134 simulated seconds (and their keep-alives) booting, against 33 side by
        side, and 64 TCP vaults take 28.7 s instead of 16.9 (one run each, loaded machine); a
        worker process joining its 86 vaults one by one did not finish within 300 s. Joins
        running together can miss each other in their far buckets and neighbourhoods; the
        periodic bucket refresh and the neighbourhood refresh (neighbours asked in turn) fill
        those in, and `converged` (what the caller waits for) says when. Each newcomer of a
        round tries four of our vaults spread over them, starting from a different one in
        turn, then `bootstrap`, so no one vault answers the whole round: through one, 43 side
        by side were refused ("no bootstrap vault answered"), of 256 simulated vaults the last
        128 found the first vault's links full, and of 512 two found both of theirs at the
        link cap (which refuses a far newcomer) and never got in. `must_join` (joining a
        running network, from a worker process or `--join`): each must have got in
        (`_joined`: TestnetError otherwise)."""
        while count:
            batch = min(count, len(self.vaults))
            before = len(self.vaults)
            async with trio.open_nursery() as joining:
                for i in range(batch):
                    spread = dict.fromkeys(self.vaults[(i + j * before // 4) % before].address
                                           for j in range(4))
                    via = [*spread, *(address for address in bootstrap if address not in spread)]
                    joining.start_soon(self._start_vault, via)
            if must_join:
                for vault in self.vaults[before:]:
                    await self._joined(vault)
            count -= batch

    async def _join_network(self, count: int) -> None:
        """Start `count` vaults joining the network at `self.join` (JoinRefused if the first
        cannot); the others join through it as well."""
        first = await self._start_vault(bootstrap=self.join)
        if not first.joined:
            await self.kill_vault(first.name)
            raise JoinRefused(await self._why_not_joined())
        await self._boot(count - 1, [first.address, *self.join], must_join=True)

    async def _why_not_joined(self) -> str:
        """Why our vaults could not join through `self.join`: a handshake with the first
        address tells a refused network key from nothing answering."""
        address = self.join[0]
        probe = TcpEndpoint(Identity.generate(), host=self.host, network_key=self.network_key)
        try:
            conn = await probe.connect(address)
        except AdmissionRefused:
            return (f"the vault at {address} refused our network key: join with the key of the "
                    "testnet there")
        except TransportError as exc:
            return f"cannot join through {address}: {exc}"
        await conn.aclose()
        return f"the vault at {address} did not answer the join"

    def _reserve_descriptors(self, vaults: int) -> None:
        """Make sure this process may hold `vaults` vaults at their caps (TooFewDescriptors)."""
        reserve_descriptors(descriptors.needed(vaults, self.transport)
                            + self.reserved_descriptors)

    def _kept_vaults(self) -> int:
        """How many vaults an earlier run on our data directory left there (the highest
        `vault-NNN` with an identity): a restarted testnet brings every one of them back with
        its identity and data, also those added while it ran, whatever `vaults` says."""
        numbers = [int(d.name[len(VAULT_DIR_PREFIX):])
                   for d in self.data_dir.glob(f"{VAULT_DIR_PREFIX}*")
                   if d.name[len(VAULT_DIR_PREFIX):].isdigit() and (d / KEY_FILE).is_file()]
        return max(numbers, default=0)

    def _load_network_key(self) -> bytes:
        """The data directory's network key, created on first use."""
        path = self.data_dir / NETWORK_KEY_FILE
        try:
            if path.exists():
                key = path.read_bytes()
                if len(key) != NETWORK_KEY_SIZE:
                    raise TestnetError(f"{path}: expected a {NETWORK_KEY_SIZE}-byte network key, "
                                       f"found {len(key)} bytes")
                return key
            if self.transport == "sim" and self.seed is not None:
                key = hashlib.blake2b(str(self.seed).encode(), digest_size=NETWORK_KEY_SIZE,
                                      person=b"vaultnet-netkey").digest()
            else:
                key = os.urandom(NETWORK_KEY_SIZE)
            write_secret(path, key)
        except OSError as exc:
            raise TestnetError(f"cannot use network key {path}: {exc.strerror or exc}") from None
        return key

    def _endpoint(self, identity: Identity) -> Endpoint:
        if self.sim is not None:
            return self.sim.endpoint(identity, network_key=self.network_key)
        return TcpEndpoint(identity, host=self.host, network_key=self.network_key)

    def client_endpoint(self, identity: Identity) -> Endpoint:
        """A client's endpoint on this testnet's transport (no network key: clients need none)."""
        if self.sim is not None:
            return self.sim.endpoint(identity, role="client")
        return TcpEndpoint(identity, role="client")

    def _identity_seed(self) -> bytes | None:
        return self.rng.randbytes(32) if self.seed is not None else None

    async def _start_vault(self, bootstrap: list[str] | None = None,
                           directory: Path | None = None) -> Vault:
        assert self._nursery is not None
        if directory is None:
            self._count += 1
            directory = self.data_dir / f"{VAULT_DIR_PREFIX}{self._count:03d}"
        identity = Identity.load_or_create(directory, self._identity_seed())
        vault = Vault(identity, self._endpoint(identity), self.bus, self.params, self.timing,
                      bootstrap=bootstrap, rng=random.Random(identity.name))
        self._dirs[vault.name] = directory
        vault.attach(PersonaHost(vault, directory, self.capacity))
        await self._nursery.start(vault.run)
        self.vaults.append(vault)
        self._true_groups.clear()
        return vault

    async def vault_rows(self) -> list[dict[str, Any]]:
        """Every running vault as `vaultnet ctl status` lists it (`worker_pool.vault_row`: name,
        address, peers, copies, its own proximity set, ...): ours, then each worker's."""
        return [vault_row(v) for v in self.vaults] + await self.workers.rows()

    def bootstrap_addresses(self) -> list[str]:
        """Where a new vault or client joins: the first three vaults' addresses."""
        return [v.address for v in self.vaults[:3]]

    def vault(self, name: Name | str) -> Vault:
        """The live vault with this name (bytes, or a unique hex prefix)."""
        def match(v: Vault) -> bool:
            if isinstance(name, bytes):
                return v.name == name
            return v.name.hex().startswith(name.lower())

        matches = [v for v in self.vaults if match(v)]
        if len(matches) != 1:
            label = name.hex()[:16] if isinstance(name, bytes) else name
            raise TestnetError(f"no single live vault matches {label!r}")
        return matches[0]

    async def add_vault(self) -> Vault:
        """Start one more vault through the bootstrap vaults; TestnetError (and the vault
        stopped again) if none of them answered its join; TooFewDescriptors if one more vault
        would not fit the process's descriptor limit."""
        self._reserve_descriptors(len(self.vaults) + 1)
        return await self._joined(await self._start_vault(bootstrap=self.bootstrap_addresses()))

    async def _joined(self, vault: Vault) -> Vault:
        """`vault`, if it got into the network; otherwise stop it and say why."""
        if vault.joined:
            return vault
        await self.kill_vault(vault.name)
        raise TestnetError(f"vault {vault.name.hex()[:16]} could not join: no bootstrap vault "
                           f"answered ({', '.join(vault.bootstrap)})")

    async def kill_vault(self, name: Name | str) -> None:
        """Stop vault `name` and drop it from the testnet, so its peers see it leave (churn)."""
        vault = self.vault(name)
        self.vaults.remove(vault)
        self._true_groups.clear()
        vault.stop()
        await trio.lowlevel.checkpoint()

    async def restart_vault(self, name: Name | str) -> Vault:
        """Bring a vault back with the same identity and data directory (a live one is killed
        first). `name` is the vault's name or a unique hex prefix of a vault that ever ran.
        TestnetError, as for `add_vault`, if no bootstrap vault answers its join."""
        if isinstance(name, str):
            matches = [n for n in self._dirs if n.hex().startswith(name.lower())]
            if len(matches) != 1:
                raise TestnetError(f"no single vault that ever ran matches {name!r}")
            name = matches[0]
        if any(v.name == name for v in self.vaults):
            await self.kill_vault(name)
        directory = self._dirs.get(name)
        if directory is None:
            raise TestnetError(f"never ran a vault {name.hex()[:16]}")
        return await self._joined(await self._start_vault(bootstrap=self.bootstrap_addresses(),
                                                          directory=directory))

    def fault(self, name: Name | str, kind: Fault | str) -> Vault:
        """Inject a fault (see `vaultnet.runtime.faults`) into the live vault `name`; returns it."""
        vault = self.vault(name)
        try:
            fault = kind if isinstance(kind, Fault) else parse_fault(kind)
            apply_fault(vault, fault, [v for v in self.vaults if v is not vault], self.sim)
        except FaultError as exc:
            raise TestnetError(str(exc)) from None
        vault.emit(ev.FaultInjected(vault.now(), vault.name, fault.value))
        return vault

    async def client(self, identity: Identity | None = None) -> MaidClient:
        """A MaidNode client connected through a bootstrap vault: a new account, or the one of
        `identity` (an earlier client's `.identity`), so a test can reconnect as the same
        client."""
        assert self._nursery is not None
        salt = b""
        if identity is None:
            identity = Identity.generate(self._identity_seed())
        else:  # its request ids must not repeat the earlier connection's (firewall answers)
            self._client_reconnects += 1
            salt = self._client_reconnects.to_bytes(4, "big")
        rng = random.Random(identity.name + salt) if self.seed is not None else None
        return await open_client(self.client_endpoint(identity), self.bootstrap_addresses(),
                                 self._nursery, identity, self.params, rng)

    async def mpid_client(self, identity: Identity | None = None,
                          trace: bytes | None = None) -> MpidClient:
        """An MpidNode connected through a bootstrap vault and announced online (under
        `trace`, if given); pass the identity of an earlier one to bring that MPID back."""
        assert self._nursery is not None
        identity = identity or Identity.generate(self._identity_seed())
        self._mpid_connects += 1
        rng = (random.Random(identity.name + self._mpid_connects.to_bytes(4, "big"))
               if self.seed is not None else None)
        return await open_mpid_client(self.client_endpoint(identity),
                                      self.bootstrap_addresses(), self._nursery, identity,
                                      self.params, rng, trace)

    def events(self, max_buffer: int = 100_000) -> ev.Subscription:
        """A bounded subscription to the event stream, from now on."""
        return self.bus.subscribe(max_buffer)

    # -- the oracle: brute-force truth over live vaults --------------------------------------

    def true_close_group(self, target: Name) -> list[Name]:
        """The oracle's close group of `target` over all live vaults, to check vaults' views
        (remembered until a vault is added or killed: `TRUE_GROUPS_KEPT`)."""
        group = self._true_groups.get(target)
        if group is None:
            if len(self._true_groups) >= TRUE_GROUPS_KEPT:
                self._true_groups.clear()
            group = tuple(closest_of(target, self.vaults, self.params.group_size))
            self._true_groups[target] = group
        return list(group)

    def converged(self) -> bool:
        """Every vault knows what exact responsibility needs (computed over all live vaults):
        its proximity set is the true one, and each of its buckets holds at least min(group
        size, the bucket's true population) vaults, so for any name it knows enough of the
        vaults closer to it than itself (`vaultnet.routing`)."""
        names = tuple(v.name for v in self.vaults)
        if names != self._converged_over:
            self._converged_over, self._converged_views = names, {}
        live = set(names)
        return all(self._view_exact(vault, names, live) for vault in self.vaults)

    def _view_exact(self, vault: Vault, names: tuple[Name, ...], live: set[Name]) -> bool:
        """`converged` for one vault, remembered until its table or the live vaults change:
        a wait checks after every event, and the check is a sort of every live vault per vault
        (a 256-vault boot spent seconds in it)."""
        version = vault.routing.version
        known = self._converged_views.get(vault.name)
        if known is not None and known[0] == version:
            return known[1]
        others = [n for n in names if n != vault.name]
        exact = (vault.routing.proximity()
                 == tuple(closest(vault.name, others, self.params.proximity_size))
                 and self._buckets_cover(vault, live))
        self._converged_views[vault.name] = (version, exact)
        return exact

    def _buckets_cover(self, vault: Vault, live: set[Name]) -> bool:
        """Whether each of `vault`'s buckets holds min(group size, its population) live vaults."""
        population = Counter(bucket_index(vault.name, n) for n in live if n != vault.name)
        known = Counter(bucket_index(vault.name, n) for n in vault.routing.peers if n in live)
        return all(known[index] >= min(self.params.group_size, count)
                   for index, count in population.items())

    async def wait_for(self, condition: Callable[[], bool], timeout: float = SETTLE_TIMEOUT,
                       what: str = "condition", every: float | None = None) -> None:
        """Wait until `condition()` holds, checking after every event, up to `timeout` seconds.
        With `every`, check at that interval instead: for a condition too costly to evaluate
        after each of thousands of events (the resolution of the wait is then `every`)."""
        if condition():
            return
        if every is not None:
            with trio.move_on_after(timeout):
                while not condition():
                    await trio.sleep(every)
                return
            raise NotSettled(f"{what} not reached within {timeout:g}s")
        sub = self.bus.subscribe(max_buffer=1)
        try:
            with trio.move_on_after(timeout):
                while not condition():
                    with trio.move_on_after(self.timing.keepalive):
                        await sub.receive()
                    sub.drain(1)  # its buffer holds one: this empties it
                return
        finally:
            sub.close()
        raise NotSettled(f"{what} not reached within {timeout:g}s")

    async def wait_converged(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait until every vault's proximity set is the true one (`converged`): routing only,
        what a testnet waits for when it starts; records may still be moving."""
        await self.wait_for(self.converged, timeout, "routing convergence")

    async def wait_settled(self, timeout: float = SETTLE_TIMEOUT,
                           every: float = CHECK_EVERY) -> None:
        """Wait until routing has converged, every group's members hold equal records and the
        holders of each recorded copy are the ones its record names (`invariants.settled`),
        all within `timeout`; InvariantsViolated names what was still wrong."""
        deadline = trio.current_time() + timeout
        await self.wait_converged(timeout)
        await self._wait_until_clean(lambda: invariants.settled(self), "settled records",
                                     max(0.0, deadline - trio.current_time()), every)

    async def wait_replicated(self, chunk_names: Iterable[Name] | None = None,
                              timeout: float = SETTLE_TIMEOUT, every: float = CHECK_EVERY,
                              what: str = "full replication") -> None:
        """Wait until every copy of each chunk (default: every chunk the DataManagers record,
        re-read at each check) is on its full set of holders (`invariants.replication`);
        InvariantsViolated (its message starting with `what`) names the chunks still short at
        the deadline."""
        chunks = None if chunk_names is None else list(chunk_names)
        copies = None if chunks is None else invariants.copies_of(chunks)
        await self._wait_until_clean(lambda: invariants.replication(self, chunks), what,
                                     timeout, every,
                                     ready=lambda: invariants.fully_stored(self, copies))

    async def _wait_until_clean(self, check: Callable[[], Sequence[invariants.Violation]],
                                what: str, timeout: float, every: float,
                                ready: Callable[[], bool] = lambda: True) -> None:
        """Poll `check` every `every` seconds until it finds nothing, up to `timeout`; `ready`
        is a cheaper condition `check` cannot pass without, polled first (the violations
        reported are what `check` finds at the deadline)."""
        try:
            await self.wait_for(lambda: ready() and not check(), timeout, what, every)
        except NotSettled:
            found = check()
            if found:
                raise InvariantsViolated(what, timeout, found) from None

    # -- inspection: read-only, documented facts (see `vaultnet.runtime.inspection`) ---------------

    @property
    def parameters(self) -> inspection.ProtocolParameters:
        """Group size, quorums, copy kinds and holders per copy: `copies_per_chunk` is 6."""
        return inspection.ProtocolParameters.of(self.params)

    def holders(self, chunk_name: Name) -> inspection.ChunkHolders:
        """Per copy kind of the chunk: the live vaults storing it, and each DataManager's
        record of it."""
        return inspection.chunk_holders(self, chunk_name)

    def stored_copies(self) -> list[inspection.HeldCopy]:
        """Every copy on every live vault's disk, each with the chunk it is a copy of."""
        return inspection.held_copies(self)

    def rank(self, vault_name: Name) -> inspection.NodeRank:
        """The vault's storage account (and so its rank) as each of its PmidManagers keeps it."""
        return inspection.node_rank(self, vault_name)

    def ranks(self) -> dict[Name, inspection.NodeRank]:
        """`rank` of every vault some member of its PmidManager group keeps an account of."""
        return inspection.node_ranks(self)

    def account(self, client_name: Name) -> inspection.Account:
        """The client's account (bytes used, allowance, chunks put) as each of its
        MaidManagers keeps it."""
        return inspection.client_account(self, client_name)

    def version_tree(self, name: Name) -> inspection.VersionTrees:
        """The version tree at `name` as each of its VersionManagers holds it."""
        return inspection.version_tree(self, name)

    def structured_records(self) -> dict[Name, inspection.StructuredRecords]:
        """Every structured data record, as each member of its VersionManager group holds it."""
        return inspection.structured_records(self)

    def inbox(self, mpid: Name) -> inspection.Inbox:
        """The messages held for an MPID as each of its MpidManagers holds them."""
        return inspection.inbox(self, mpid)

    def held_messages(self) -> dict[Name, int]:
        """Per live vault, the messages it holds until a lookup of their sender's group ends."""
        return {v.name: inspection.held_messages(v) for v in self.vaults}

    def summary(self) -> dict[str, float]:
        """Headline numbers for the dashboard and benchmarks (vaults, links, messages, fill)."""
        return {
            "vaults": len(self.vaults),
            "connections": sum(v.connections() for v in self.vaults),
            "messages": sum(v.messages_in for v in self.vaults),
            "bucket_fill": math.fsum(len(v.routing) for v in self.vaults)
            / max(1, len(self.vaults)),
        }


def reserve_descriptors(needed: int) -> None:
    """Make sure this process may open `needed` file descriptors, raising its soft limit toward
    the hard one if it must (TooFewDescriptors if even that is too few)."""
    shortage = descriptors.reserve(needed)
    if shortage is not None:
        raise TooFewDescriptors(shortage)


def check_host(host: str) -> None:
    """TestnetError unless `host` is an IP address a vault can listen on and others can dial
    (not 0.0.0.0 or ::, which would be advertised as is)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise TestnetError(f"not an IP address: {host!r}") from None
    if address.is_unspecified or address.is_multicast:
        raise TestnetError(f"cannot listen on {host} and advertise it: give a vault address")
