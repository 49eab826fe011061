# Reward channel: rollout actors (DEALER) <-> reward servers (ROUTER).
# Text crosses, not token ids: the reward model applies its own tokenizer and chat template.
@0xe6401157b41f17da;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("gramrl::wire");

using Common = import "common.capnp";

# Every message on the channel is one RewardMessage. A reply carries the seq of its request.
struct RewardMessage {
  seq @0 :UInt64;
  union {
    scoreRequest @1 :ScoreRequest;
    scoreReply @2 :ScoreReply;
    error @3 :Common.ErrorReply;
    ping @4 :Void;   # health check; answered with pong
    pong @5 :Void;
  }
}

struct ScoreRequest {
  policyVersion @0 :UInt64;
  # Wall-clock deadline in milliseconds since the Unix epoch; 0 = none. A server drops work
  # whose deadline has passed instead of computing it, and answers deadlineExceeded.
  deadlineUnixMs @1 :UInt64;
  union {
    # Score each response against a reference response (GRAM pointwise, ReMax-style), or on its
    # own for scalar backends (bradley_terry, rule), which ignore the reference.
    pointwise @2 :List(PointwiseItem);
    # P(responseA is better than responseB) for each pair.
    pairwise @3 :List(PairItem);
    # Pick the best of each group of candidates.
    bestOfN @4 :List(CandidateGroup);
  }
}

struct PointwiseItem {
  prompt @0 :Text;     # the user question, before any chat template
  response @1 :Text;
  reference @2 :Text;  # the response to compare against; empty when the backend needs none
  label @3 :Text;      # optional ground truth for rule backends (e.g. the gold answer)
  hasReference @4 :Bool;  # since issue 11: a reference was given, even if it is the empty response
}

struct PairItem {
  prompt @0 :Text;
  responseA @1 :Text;
  responseB @2 :Text;
}

struct CandidateGroup {
  prompt @0 :Text;
  candidates @1 :List(Text);
}

struct ScoreReply {
  modelName @0 :Text;       # which backend answered (for logs and metrics)
  scores @1 :List(Float32); # one per item (pointwise, pairwise) or per candidate, concatenated (bestOfN)
  best @2 :List(UInt32);    # bestOfN only: index of the winner within each group
  computeMs @3 :Float32;    # time the backend spent on this request's batch
}
