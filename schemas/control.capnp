# Control channel: every process <-> the launcher (registration, liveness, shutdown).
@0x9f8e447fb5998002;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("gramrl::wire");

enum Role {
  launcher @0;
  learner @1;
  actor @2;
  rewardServer @3;
}

struct ProcessId {
  role @0 :Role;
  index @1 :UInt32;    # rank for learners, actor id for actors, replica for reward servers
  host @2 :Text;
  pid @3 :UInt32;
}

struct Endpoint {
  name @0 :Text;       # e.g. "reward", "rollout", "weights"
  address @1 :Text;    # a resolved ZeroMQ endpoint, e.g. tcp://10.0.0.5:41234
}

struct ControlMessage {
  seq @0 :UInt64;
  sender @1 :ProcessId;
  union {
    register @2 :Register;
    heartbeat @3 :Heartbeat;
    stop @4 :Stop;
    ack @5 :UInt64;     # the seq of the message being acknowledged
  }
}

struct Register {
  endpoints @0 :List(Endpoint);
}

enum ProcessState {
  starting @0;
  ready @1;
  busy @2;
  draining @3;
  failed @4;
}

struct Heartbeat {
  unixMs @0 :UInt64;
  state @1 :ProcessState;
  step @2 :Int64;           # learner step or actor batch count; -1 when not applicable
  policyVersion @3 :Int64;  # -1 when not applicable
  detail @4 :Text;          # a short human-readable status (e.g. the error that put it in failed)
}

struct Stop {
  reason @0 :Text;
  graceful @1 :Bool;        # true: finish in-flight work, then exit; false: exit now
  deadlineMs @2 :UInt32;    # how long a graceful stop may take before the launcher kills
}
