-- Counts events per user (the stream is keyed by "user") with two timers:
-- a one-second cooldown after a user's 10th event, and a one-second
-- inactivity timeout. Each user has at most one pending timer; its time is
-- ctx.state.due.
--
-- State per user: count (events so far), due (the pending timer's time),
-- cooldown (true during a cooldown), ignored (events during the cooldown).
--
-- Event time vs processing time. The timers here are event-time timers:
-- they fire when the watermark (the newest event time minus
-- max_out_of_orderness_ms) passes them, so "a second later" means a second
-- later in the data, and the output is the same on every run. For a
-- wall-clock second, register ctx:timer(ctx:now() + 1000) instead of
-- ctx:event_timer(...), and cancel with kind "processing": on_timer then
-- runs a real second after the 10th event whatever the input says (and the
-- output depends on how fast the input is read).
--
-- The watermark lags behind the events, so an event of a user can arrive
-- after its user's timer is due in event time but before the watermark
-- fires it. process settles that timer first (as if it had fired in time),
-- so the output never depends on when the watermark happens to move.
local LIMIT = 10          -- events before the cooldown
local COOLDOWN_MS = 1000  -- the cooldown after the LIMIT-th event
local QUIET_MS = 1000     -- inactivity timeout

local M = {}

local function set_timer(ctx, at)
  ctx.state.due = at
  ctx:event_timer(at)
end

-- The user's timer at `at` is due: report it and start the user over.
local function expire(ctx, at)
  local st = ctx.state
  if st.cooldown then
    ctx:emit({ user = ctx.key, event = "reset", at = at, ignored = st.ignored })
  else
    ctx:emit({ user = ctx.key, event = "timeout", at = at, count = st.count })
  end
  ctx:clear()             -- drops the state and the user's timers
end

function M.process(ev, ctx)
  local ts = ctx:timestamp()
  local st = ctx.state
  if st.due and ts >= st.due then
    -- due in event time, but the watermark has not fired it yet
    ctx:cancel_timer(st.due, "event")
    expire(ctx, st.due)
    st = ctx.state
  end
  if st.cooldown then
    st.ignored = st.ignored + 1
    return
  end
  st.count = (st.count or 0) + 1
  if st.count == LIMIT then
    ctx:emit({ user = ctx.key, event = "limit", count = LIMIT, at = ts })
    ctx:clear()
    st = ctx.state
    st.cooldown, st.ignored = true, 0
    set_timer(ctx, ts + COOLDOWN_MS)
  elseif st.due == nil or ts + QUIET_MS > st.due then
    -- the timeout moves with the user's newest event (an out-of-order older
    -- event counts but does not move it)
    if st.due then ctx:cancel_timer(st.due, "event") end
    set_timer(ctx, ts + QUIET_MS)
  end
end

function M.on_timer(ts, ctx, kind)
  expire(ctx, ts)
end

return M
