# gdb/hop-gdb.py: gdb commands for programs that use hop.
#
#   (gdb) source /path/to/hop/gdb/hop-gdb.py
#   (gdb) info hop-tasks          every live task: id, record, name, state,
#                                 executor, what it waits on (with the specifics
#                                 hop_task_dump shows: "sleep 250 ms", "tcp read
#                                 fd 7"), where it was spawned
#   (gdb) hop-bt ID               the backtrace of suspended task ID (hop_task_id,
#                                 as info hop-tasks shows it, or a record address)
#
# It reads what hop_task_snapshot reads (src/core/registry.c): the list of
# stack mappings hop__registry_head and the task record at the top of each.
# hop-bt switches the selected thread's registers to the task's saved frame
# (the layout src/arch/switch_*.S documents), prints the backtrace, and puts
# the registers back, as Go's runtime-gdb.py does for goroutines; it needs a
# live process (a core file's registers cannot be changed). A running task
# has no saved frame: find its thread with `info threads` instead. Needs
# libhop built with debug information (-g).
import gdb

STATES = {0: "created", 1: "running", 2: "suspended", 3: "done", 4: "cancelled"}


def _string(ptr):
    try:
        return ptr.string() if int(ptr) != 0 else None
    except gdb.error:
        return "?"


def _tasks():
    """Yields (record value, address) for each live task."""
    task_type = gdb.lookup_type("struct hop_task_s")
    size = task_type.sizeof
    node = gdb.parse_and_eval("hop__registry_head")
    while int(node) != 0:
        stack = node["stack"]
        top = int(stack["low"].cast(gdb.lookup_type("unsigned long"))) + int(stack["size"])
        address = (top - size) & ~63
        record = gdb.parse_and_eval("*(struct hop_task_s *)%d" % address)
        if int(record["registry_live"]) != 0 and int(record["registry_seq"]) % 2 == 0:
            yield record, address
        node = node["next"]


def _describe_io(op):
    what = _string(op["what"])
    if not what:
        return None
    text = what
    label = _string(op["label"])
    if label:
        text += " %s %d" % (label, int(op["number"]))
    path = op["text"].string()
    if path:
        text += " " + path
    return text


def _hex(value):
    return "0x%x" % int(value.cast(gdb.lookup_type("unsigned long")))


# What hop_task_dump's describe ops print (src/**: each awaitable's
# *_describe), for hop's own awaitables by their static name: gdb cannot
# call describe (not on a core file), so it reads the same fields.
_DESCRIBE = {
    "future": ("hop__future_await_t", lambda a: "future " + _hex(a["future"])),
    "sleep": ("hop__sleep_t", lambda a: "sleep %d ms" % int(a["milliseconds"])),
    "mutex lock": ("hop__mutex_waiter_t", lambda a: "mutex " + _hex(a["mutex"])),
    "event wait": ("hop__event_waiter_t", lambda a: "event " + _hex(a["event"])),
    "semaphore acquire": ("hop__semaphore_waiter_t", lambda a: "semaphore " + _hex(a["semaphore"])),
    "once": ("hop__once_waiter_t", lambda a: "once " + _hex(a["once"])),
    "channel": ("hop__channel_waiter_t",
                lambda a: "channel %s %s" % ("send" if int(a["sender"]) else "recv", _hex(a["channel"]))),
    "group wait": ("hop__group_wait_t", lambda a: "group wait " + _hex(a["group"])),
    "group wait (shielded)": ("hop__group_wait_t", lambda a: "group wait " + _hex(a["group"])),
    "run_in_executor": ("hop__offload_await_t", lambda a: "%s on %s" % (_string(a["what"]), _hex(a["target"]))),
    "dispatch": ("hop__dispatch_t", lambda a: "dispatch to " + _hex(a["target"])),
    "io": ("hop__io_op_t", _describe_io),
    "io (shielded)": ("hop__io_op_t", _describe_io),
}


def _waiting_on(record):
    """What a suspended task waits on: the specifics where hop's own
    awaitable is known, else its static name."""
    name = _string(record["await_name"]) or "awaitable"
    entry = _DESCRIBE.get(name)
    try:
        awaitable = record["await_current"]
        if entry and int(awaitable) != 0:
            type_name, describe = entry
            value = awaitable.cast(gdb.lookup_type(type_name).pointer()).dereference()
            return describe(value) or name
    except (gdb.error, RuntimeError):
        pass  # no debug information for it: the static name
    return name


def _find(argument):
    tasks = list(_tasks())
    value = int(gdb.parse_and_eval(argument))
    for record, address in tasks:
        if int(record["id"]) == value or address == value:
            return record, address
    raise gdb.GdbError("no live task with id or address %s (info hop-tasks lists them)" % argument)


class InfoHopTasks(gdb.Command):
    """List hop's live tasks: id, record, name, state, executor, awaitable, spawn site."""

    def __init__(self):
        super().__init__("info hop-tasks", gdb.COMMAND_STATUS)

    def invoke(self, argument, from_tty):
        count = 0
        for record, address in _tasks():
            count += 1
            state = STATES.get(int(record["state"]), "?")
            executor = record["executor"]
            kind = "?"
            if int(executor) != 0:
                ops = executor["ops"]
                kind = _string(ops["name"]) if int(ops) != 0 else "?"
            line = '%3d  task %d at 0x%x "%s" %s on %s' % (
                count, int(record["id"]), address, record["name"].string(), state, kind)
            if state == "suspended":
                line += ', waiting on "%s"' % _waiting_on(record)
            spawn_file = _string(record["spawn_file"])
            if spawn_file:
                line += ", spawned at %s:%d" % (spawn_file, int(record["spawn_line"]))
            print(line)
        print("%d task%s" % (count, "" if count == 1 else "s"))


class HopBacktrace(gdb.Command):
    """hop-bt ID: the backtrace of the suspended hop task with that id (info hop-tasks) or record address."""

    def __init__(self):
        super().__init__("hop-bt", gdb.COMMAND_STACK)

    def invoke(self, argument, from_tty):
        if not argument:
            raise gdb.GdbError("usage: hop-bt ID (a task id from info hop-tasks, or a task record address)")
        record, address = _find(argument)
        state = STATES.get(int(record["state"]), "?")
        if state not in ("suspended", "created"):
            raise gdb.GdbError("task 0x%x is %s: only a suspended task has a saved frame" % (address, state))
        sp = int(record["context"]["sp"].cast(gdb.lookup_type("unsigned long")))
        arch = gdb.selected_frame().architecture().name()
        ulong_ptr = gdb.lookup_type("unsigned long").pointer()

        def word(offset):
            return int(gdb.Value(sp + offset).cast(ulong_ptr).dereference())

        if "x86-64" in arch:
            # hop__context_switch's frame: rbp at +0x30, the return address at +0x38.
            saved = {"$rsp": sp + 0x40, "$rbp": word(0x30), "$pc": word(0x38)}
        elif "aarch64" in arch:
            # x29 (fp) at +0x90, x30 (lr) at +0x98, frame size 0xb0.
            saved = {"$sp": sp + 0xB0, "$x29": word(0x90), "$pc": word(0x98)}
        else:
            raise gdb.GdbError("hop-bt: no frame layout for %s" % arch)
        gdb.execute("select-frame 0")
        old = {name: int(gdb.parse_and_eval(name).cast(gdb.lookup_type("unsigned long"))) for name in saved}
        try:
            for name, value in saved.items():
                gdb.execute("set %s = %d" % (name, value))
            print('task 0x%x "%s":' % (address, record["name"].string()))
            gdb.execute("backtrace")
        finally:
            for name, value in old.items():
                gdb.execute("set %s = %d" % (name, value))


InfoHopTasks()
HopBacktrace()
