#!/usr/bin/env python3
"""A QMP conversation with the device model as libxl holds it, through xensim: the greeting,
capabilities negotiation, every query libxl sends, stop/cont with their events, add-fd with a
descriptor passed by SCM_RIGHTS, xen-save-devices-state into /dev/fdset/N, remove-fd, dirty-log,
human-monitor-command, xl vcpu-set's vCPU hotplug (query-cpus-fast, query-hotpluggable-cpus,
device_add) and system_powerdown, and the error replies (before negotiation, unknown command,
bad arguments, a malformed line, a vCPU that exists or is beyond maxcpus). The same conversation
runs against Debian's qemu-xen: where both must answer alike the test says so, and the two
columns are compared. TAP on stdout.

    test-qmp-conversation.py XENSIM XENSIM_LIBDIR DM [DM...]
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

DOMID = 1
# The domain: one vCPU online of two (libxl passes -smp 1,maxcpus=2), no display.
DOMAIN_CONFIG = 'vcpus = 1\nmaxvcpus = 2\nvga = "none"\nvnc = 0\n'
CPU_DRIVER = "qemu32-i386-cpu"  # qemu-xen's, for the xenfv machine


class Session:
    """One QMP connection: JSON objects per line; events are set aside."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b""
        self.events = []

    def read_object(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def reply(self):
        while True:
            obj = self.read_object()
            if "event" in obj:
                self.events.append(obj)
                continue
            return obj

    def send_raw(self, data, fds=None):
        if fds:
            socket.send_fds(self.sock, [data], fds)
        else:
            self.sock.sendall(data)

    def cmd(self, execute, arguments=None, fds=None, **extra):
        msg = {"execute": execute}
        if arguments is not None:
            msg["arguments"] = arguments
        msg.update(extra)
        self.send_raw(json.dumps(msg).encode() + b"\r\n", fds)
        return self.reply()

    def close(self):
        self.sock.close()


class Harness:
    """xensim with the device model, kept alive by an idle qtest session on fd 3."""

    def __init__(self, xensim, libdir, dm, tmp):
        self.tmp = tmp
        self.is_xendm = os.path.basename(dm).startswith("xendm")
        parent, child = socket.socketpair()
        self.qtest = parent
        config = os.path.join(tmp, "domain.cfg")
        disk = os.path.join(tmp, "disk.img")
        with open(disk, "wb") as f:
            f.truncate(8 << 20)
        with open(config, "w") as f:
            f.write(DOMAIN_CONFIG + f'disk = [ "{disk},raw,hda,rw" ]\n')
        argv = [xensim, "--qtest-fd=3", f"--dm={dm}", f"--libdir={libdir}",
                f"--run-dir={tmp}", f"--config={config}", "--serial", "null",
                "--name", "conversation"]
        self.proc = subprocess.Popen(argv, pass_fds=[3], stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(tmp, "xensim.log"), "w"),
                                     preexec_fn=lambda: os.dup2(child.fileno(), 3))
        child.close()
        self.qtest_cmd("timeout 5000")  # answered once the device model is running

    def qtest_cmd(self, line):
        self.qtest.sendall(line.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = self.qtest.recv(4096)
            if not chunk:
                raise EOFError("qtest session closed")
            data += chunk
        return data.decode().strip()

    def qmp_path(self):
        for name in (f"qmp-libxl-{DOMID}",):
            for root, _, files in os.walk(self.tmp):
                if name in files:
                    return os.path.join(root, name)
        raise FileNotFoundError(f"no qmp-libxl-{DOMID} socket under {self.tmp}")

    def stop(self):
        try:
            self.qtest_cmd("quit")
        except (EOFError, OSError):
            pass
        self.proc.wait(timeout=20)


def error_class(reply):
    return reply.get("error", {}).get("class")


def error_desc(reply):
    return reply.get("error", {}).get("desc")


def device_add_vcpu(s, n, cpu_id=None):
    """libxl 4.17's device_add for vCPU n (libxl_set_vcpuonline)."""
    return s.cmd("device_add", {"id": cpu_id or f"cpu-{n}", "driver": CPU_DRIVER,
                                "socket-id": n, "core-id": 0, "thread-id": 0})


def vcpu_hotplug(s, check):
    """xl vcpu-set DOM 2 as libxl 4.17 sends it, then what it must refuse."""
    r = s.cmd("query-hotpluggable-cpus")
    slots = r.get("return", [])
    shape = [(c.get("type"), c.get("props", {}).get("socket-id"), "qom-path" in c)
             for c in slots]
    check("query-hotpluggable-cpus: every vCPU to maxcpus, highest first, the present one"
          " with its qom-path (libxl takes the first entry's type as the driver)",
          shape == [(CPU_DRIVER, 1, False), (CPU_DRIVER, 0, True)], json.dumps(r), shape)
    r = device_add_vcpu(s, 1)
    check("device_add of vCPU 1 as xl vcpu-set sends it", r.get("return") == {},
          json.dumps(r), "return")
    r = s.cmd("query-cpus-fast")
    cpus = sorted((c.get("cpu-index"), c.get("qom-path")) for c in r.get("return", []))
    check("query-cpus-fast after it: vCPUs 0 and 1 (libxl reads cpu-index)",
          [i for i, _ in cpus] == [0, 1] and cpus[1][1] == "/machine/peripheral/cpu-1",
          json.dumps(r), cpus[1:])
    r = s.cmd("query-hotpluggable-cpus")
    paths = [c.get("qom-path") for c in r.get("return", [])]
    check("query-hotpluggable-cpus after it: both present",
          len(paths) == 2 and paths[0] == "/machine/peripheral/cpu-1", json.dumps(r), paths[:1])
    r = device_add_vcpu(s, 1, "cpu-again")
    check("device_add of a present vCPU: GenericError", error_class(r) == "GenericError",
          json.dumps(r), error_desc(r))
    r = device_add_vcpu(s, 2)
    check("device_add beyond maxcpus: GenericError", error_class(r) == "GenericError",
          json.dumps(r), error_desc(r))
    r = device_add_vcpu(s, 0, "cpu-1")
    check("device_add with an id in use: GenericError", error_class(r) == "GenericError",
          json.dumps(r), error_desc(r))
    r = s.cmd("cpu-add", {"id": 1})
    check("cpu-add (gone since QEMU 6.0; libxl's fallback only): CommandNotFound",
          error_class(r) == "CommandNotFound", json.dumps(r), error_class(r))
    s.events.clear()
    r = s.cmd("system_powerdown")
    s.cmd("query-status")  # the event, if sent after the reply, has arrived by now
    check("system_powerdown: {} with a POWERDOWN event",
          r.get("return") == {} and any(e["event"] == "POWERDOWN" for e in s.events),
          json.dumps(r), "return")


def conversation(h):
    """Runs the conversation; returns [(name, ok, detail, comparable_summary)]."""
    results = []

    def check(name, ok, detail="", summary=None):
        results.append((name, bool(ok), detail, summary))

    s = Session(h.qmp_path())
    greeting = s.read_object()
    ver = greeting.get("QMP", {}).get("version", {}).get("qemu", {})
    check("greeting names a QEMU version libxl accepts (>= 2.11)",
          (ver.get("major", 0), ver.get("minor", 0)) >= (2, 11), json.dumps(greeting),
          "greeting")

    r = s.cmd("query-status")
    check("a command before qmp_capabilities is refused (CommandNotFound)",
          error_class(r) == "CommandNotFound", json.dumps(r), error_class(r))
    r = s.cmd("qmp_capabilities", id="neg-1")
    check("qmp_capabilities answers {} and echoes the id",
          r.get("return") == {} and r.get("id") == "neg-1", json.dumps(r), "return")

    r = s.cmd("query-status", id=7)
    check("query-status: running", r.get("return", {}).get("status") == "running"
          and r.get("id") == 7, json.dumps(r), r.get("return", {}).get("status"))
    r = s.cmd("query-name")
    check("query-name: the -name libxl passed",
          r.get("return", {}).get("name") == "conversation", json.dumps(r), "return")
    r = s.cmd("query-chardev")
    labels = [c.get("label") for c in r.get("return", [])]
    check("query-chardev lists libxl-cmd and serial0 (libxl looks for serialN)",
          "libxl-cmd" in labels and "serial0" in labels, json.dumps(labels), "return")
    r = s.cmd("query-vnc")
    check("query-vnc: VNC is off", r.get("return", {}).get("enabled") is False,
          json.dumps(r), "return")
    r = s.cmd("query-cpus-fast")
    idx = [c.get("cpu-index") for c in r.get("return", [])]
    check("query-cpus-fast: vCPU 0 online (xl save reads cpu-index)", idx == [0],
          json.dumps(r), "return")
    r = s.cmd("query-hotpluggable-cpus")
    check("query-hotpluggable-cpus answers a list", isinstance(r.get("return"), list),
          json.dumps(r)[:200], "return")
    vcpu_hotplug(s, check)

    r = s.cmd("stop")
    st = s.cmd("query-status")
    check("stop: paused, with a STOP event",
          r.get("return") == {} and st.get("return", {}).get("status") == "paused"
          and any(e["event"] == "STOP" for e in s.events), json.dumps(st), "return")
    r = s.cmd("cont")
    st = s.cmd("query-status")
    check("cont: running, with a RESUME event",
          r.get("return") == {} and st.get("return", {}).get("status") == "running"
          and any(e["event"] == "RESUME" for e in s.events), json.dumps(st), "return")

    # libxl's save: add-fd (fd by SCM_RIGHTS) then xen-save-devices-state into /dev/fdset/N.
    path = os.path.join(h.tmp, "devices.state")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    r = s.cmd("add-fd", {"opaque": "xl-save"}, fds=[fd])
    os.close(fd)
    fdset = r.get("return", {}).get("fdset-id")
    check("add-fd takes the SCM_RIGHTS descriptor into an fdset",
          isinstance(fdset, int) and isinstance(r["return"].get("fd"), int), json.dumps(r),
          "return")
    r = s.cmd("query-fdsets")
    check("query-fdsets lists it", any(f.get("fdset-id") == fdset for f in r.get("return", [])),
          json.dumps(r), "return")
    s.cmd("stop")
    r = s.cmd("xen-save-devices-state", {"filename": f"/dev/fdset/{fdset}", "live": False})
    size = os.path.getsize(path)
    check("xen-save-devices-state writes the state through /dev/fdset/N",
          r.get("return") == {} and size > 0, f"{json.dumps(r)} size={size}", "return")
    s.cmd("cont")
    r = s.cmd("remove-fd", {"fdset-id": fdset})
    r2 = s.cmd("query-fdsets")
    check("remove-fd empties the set",
          r.get("return") == {} and not any(f.get("fdset-id") == fdset
                                            for f in r2.get("return", [])),
          json.dumps(r2), "return")
    r = s.cmd("add-fd")
    check("add-fd without a descriptor is an error", error_class(r) == "GenericError",
          json.dumps(r), error_class(r))
    r = s.cmd("xen-set-global-dirty-log", {"enable": True})
    r2 = s.cmd("xen-set-global-dirty-log", {"enable": False})
    check("xen-set-global-dirty-log on, then off (libxl's live migration)",
          r.get("return") == {} and r2.get("return") == {}, json.dumps([r, r2]), "return")
    if h.is_xendm:
        # Debian's qemu-xen 7.2 aborts here (assertion in memory_global_dirty_log_do_stop):
        # a QMP client can kill it. xendm answers.
        r = s.cmd("xen-set-global-dirty-log", {"enable": False})
        check("xen-set-global-dirty-log off while off answers {} (qemu-xen 7.2 aborts)",
              r.get("return") == {}, json.dumps(r), None)

    r = s.cmd("human-monitor-command", {"command-line": "info status"})
    check("human-monitor-command 'info status' (xl qemu-monitor-command)",
          "VM status: running" in str(r.get("return")), json.dumps(r), "return")

    r = s.cmd("query-blockstats")
    devices = [b.get("device") for b in r.get("return", [])]
    stats = r.get("return", [{}])[0].get("stats", {}) if devices else {}
    check("query-blockstats lists the IDE disk with libxenstat's counters",
          "ide0-hd0" in devices and all(k in stats for k in
                                        ("rd_bytes", "wr_bytes", "rd_operations",
                                         "wr_operations")), json.dumps(r), devices)
    r = s.cmd("human-monitor-command", {"command-line": "info blockstats"})
    check("human-monitor-command 'info blockstats'",
          "ide0-hd0: rd_bytes=" in str(r.get("return")), json.dumps(r), "return")

    r = s.cmd("no-such-command")
    check("an unknown command: CommandNotFound", error_class(r) == "CommandNotFound",
          json.dumps(r), error_class(r))
    r = s.cmd("query-status", {"bogus": 1})
    check("an unexpected argument: GenericError", error_class(r) == "GenericError",
          json.dumps(r), error_class(r))
    r = s.cmd("xen-save-devices-state", {"filename": 42})
    check("an argument of the wrong type: GenericError", error_class(r) == "GenericError",
          json.dumps(r), error_class(r))
    s.send_raw(b'{"execute": "query-status", \r\n')  # never completed...
    s.send_raw(b'\x01\r\n')                          # ...a control character resynchronises
    r = s.reply()
    r2 = s.cmd("query-status")
    check("a malformed request gets an error and the session goes on",
          "error" in r and r2.get("return", {}).get("status") == "running",
          json.dumps(r) + " then " + json.dumps(r2), error_class(r))
    s.close()
    # libxl connects afresh for each operation: a new session negotiates again.
    s = Session(h.qmp_path())
    s.read_object()
    r = s.cmd("query-status")
    r2 = s.cmd("qmp_capabilities")
    check("a new connection starts a new session",
          error_class(r) == "CommandNotFound" and r2.get("return") == {}, json.dumps(r),
          "return")
    s.close()
    return results


def main():
    xensim, libdir, dms = sys.argv[1], sys.argv[2], sys.argv[3:]
    columns = {}
    for dm in dms:
        with tempfile.TemporaryDirectory(prefix="xendm-qmp-") as tmp:
            h = Harness(xensim, libdir, dm, tmp)
            try:
                columns[dm] = conversation(h)
            except Exception as e:  # a dead session fails every check after it
                columns[dm] = [(f"conversation with {os.path.basename(dm)}", False, repr(e),
                                None)]
            finally:
                h.stop()
    total = sum(len(c) for c in columns.values()) + (1 if len(dms) > 1 else 0)
    print(f"1..{total}")
    n = 0
    failed = 0
    for dm, results in columns.items():
        for name, ok, detail, _ in results:
            n += 1
            failed += not ok
            print(f"{'ok' if ok else 'not ok'} {n} - {os.path.basename(dm)}: {name}")
            if not ok:
                print(f"# {detail}")
    if len(dms) > 1:
        n += 1
        first, *others = dms
        base = {name: summary for name, _, _, summary in columns[first]}
        diffs = [f"{name}: {base.get(name)} vs {summary}"
                 for other in others for name, _, _, summary in columns[other]
                 if name in base and base[name] != summary]
        failed += bool(diffs)
        print(f"{'ok' if not diffs else 'not ok'} {n} - the device models answer alike")
        for d in diffs:
            print(f"# {d}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
