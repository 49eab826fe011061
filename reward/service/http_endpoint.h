// The reward server's HTTP front end, compatible with OpenRLHF's remote reward model API, so
// that other RLHF systems can use a gramrl reward server: POST /get_reward and GET /health.
// Boost.Beast on Boost.Asio, its own io threads; torch-free.
//
// NOTE [OpenRLHF remote reward API]
// What OpenRLHF's client sends and reads (read in OpenRLHF/OpenRLHF):
// - openrlhf/utils/remote_rm_utils.py, request_api_wrapper + remote_rm_fn_ray: `requests.post(url,
//   json=data, headers={"Content-Type": "application/json"}, timeout=180)`, so one POST with
//   `Content-Type: application/json`, `Content-Length` set, keep-alive, body from json.dumps
//   (", " and ": " separators, non-ASCII written as \uXXXX escapes, surrogate pairs above the BMP).
//   data = {"query": queries, "prompts": prompts, "labels": labels} (current versions; versions
//   before prompts/labels existed send only {"query": queries}, and one newer variant adds
//   "metas" and retries without it when refused). Retries: any exception (connection error,
//   a non-2xx status via raise_for_status, unparsable JSON) is logged and retried after 1 s, 5
//   attempts in all (older versions: 10 attempts, 0.5 s apart, no status check), then it raises.
//   Current versions return the whole JSON answer; older ones read answer[score_key] with
//   score_key "rewards".
// - openrlhf/trainer/ppo_utils/experience_maker.py: queries = tokenizer.batch_decode(
//   prompt tokens + response tokens with padding removed, skip_special_tokens=False); so
//   query[i] is the prompt text (after the chat template, which add_special_tokens=False
//   tokenization leaves as is) followed by the response, special tokens (e.g. the EOS text)
//   included. prompts[i] is that prompt text, labels[i] the dataset's label ("" when the data
//   set has none). update_samples_with_rewards reads answer["rewards"] (required), answer
//   ["scores"] (optional, falls back to rewards; used for dynamic sampling filters) and answer
//   ["extra_logs"] (optional dict of per-sample lists, logged).
// - openrlhf/cli/serve_rm.py (the reference server): POST /get_reward reads data["query"] (and
//   data["prompts"]) and answers {"rewards": r, "scores": r, "extra_logs": {...}}.
// This endpoint therefore: requires "query", takes "prompts" and "labels" when present (null
// counts as absent; other keys are ignored), and answers {"rewards": [...], "scores": [...]}
// with the same values in request order (no extra_logs: the client treats it as optional).
//
// NOTE [OpenRLHF items as pointwise items]
// Item i of a /get_reward body becomes PointwiseItem{prompt, response, reference, label}:
// - prompt = prompts[i] ("" without prompts). It is OpenRLHF's prompt after its chat template,
//   not the bare question PointwiseItem documents; a GRAM backend then judges a templated
//   question (a known difference; OpenRLHF does not send the bare question).
// - response = query[i] with the prompt removed when query[i] starts with prompts[i] byte for
//   byte (the usual case: query is decode(prompt tokens + response tokens)). Without prompts the
//   whole query[i] is the response. A query that does not start with its prompt (a tokenizer
//   whose decode does not reproduce the prompt's text exactly, or items out of step) is a 400
//   naming the index and the first differing byte: scoring it anyway, as the whole query, gave
//   rewards near 0 with nothing to say why (issue 15). Special-token text (the EOS string) stays
//   in the response: this endpoint does not know the policy's tokenizer.
// - label = reference = labels[i] ("" without labels; a number or boolean label becomes its
//   JSON text, e.g. 42 -> "42"). A GRAM backend compares the response against a reference
//   response, and OpenRLHF's API has one per-sample field for ground truth, so the label is
//   passed as both; rule backends read label, GRAM reads reference.
//
// NOTE [Slow clients]
// A client that sends its header a byte at a time (or not at all) holds a connection. Three
// bounds keep such clients from locking others out: a header must arrive within header_timeout
// (on a new connection and between keep-alive requests), a body within io_timeout, and one peer
// address may hold at most max_connections_per_address connections (of max_connections in all),
// so slow clients from one address cannot take every slot. The limits are in
// docs/input-limits.md; tests/reward/http holds slow clients against a normal one.
//
// NOTE [HTTP endpoint status codes]
// 200 {"rewards", "scores"}; 400 {"error"} for malformed JSON, wrong types, list lengths that
// differ, a missing query, or a backend MALFORMED reply; 404 unknown path; 405 wrong method
// (with Allow); 413 a body over max_body_bytes (refused from its Content-Length before the body
// is read) or more items/text than RequestLimits (TOO_LARGE); 500 INTERNAL; 501 UNSUPPORTED; 503
// OVERLOADED (Retry-After: whole seconds, at least 1) and SHUTTING_DOWN (Connection: close); 504
// DEADLINE_EXCEEDED. Every error body is {"error": "<what and where>"}.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/core/errors.h"
#include "reward/service/reward_codec.h"
#include "reward/service/score_sink.h"

namespace gramrl {
struct RewardServerOptions;
struct TransportOptions;
}  // namespace gramrl

namespace gramrl::reward {

struct HttpEndpointOptions {
  // Interface to listen on (launch.transport.bind_host): an IP address, a host name, or "*"
  // for every IPv4 interface. Loopback unless a cluster needs another.
  std::string bind_host = "127.0.0.1";
  // reward.server.http_port; 0 binds an ephemeral port (read it back with port()). The config's
  // "0 disables the endpoint" is the caller's decision: it then does not construct one.
  uint16_t port = 0;
  // Items and text bytes per request (reward.server.max_request_items, max_request_mb).
  RequestLimits limits;
  // Largest HTTP body, refused with 413 (reward.server.max_request_mb).
  size_t max_body_bytes = size_t{16} << 20;
  // The rest come from reward.server.http.* (httpEndpointOptions), with the same defaults.
  // Threads running the io_context (accept, parse, write); model work runs in the ScoreSink.
  int io_threads = 2;
  // Largest request header (request line and fields), refused with 431.
  uint32_t max_header_bytes = 16 * 1024;
  // Connections held at once; the accept loop closes any beyond this at once.
  size_t max_connections = 1024;
  // Connections held at once from one peer address (NOTE [Slow clients]).
  size_t max_connections_per_address = 64;
  // An idle keep-alive connection must start, and finish, the header of its next request within
  // this; a new connection likewise (NOTE [Slow clients]).
  std::chrono::milliseconds header_timeout{10000};
  // Reading one request's body and writing one response must each finish within this, so a slow
  // or stalled client holds only its own connection.
  std::chrono::milliseconds io_timeout{30000};
  // Deadline put on each ScoreRequest (OpenRLHF's client gives up after 180 s); 0 = none.
  std::chrono::milliseconds score_deadline{180000};
  // stop(): how long in-flight requests may take to be answered before the endpoint closes.
  std::chrono::milliseconds drain_timeout{30000};
};

// From the YAML: bind_host from launch.transport, the port and request limits from
// reward.server, the connection limits and timeouts from reward.server.http.
HttpEndpointOptions httpEndpointOptions(const RewardServerOptions& server, const TransportOptions& transport);

// A request over RequestLimits (HTTP 413). A DataError, so a caller that only tells bad input
// from good may catch DataError alone.
class RequestTooLarge : public DataError {
 public:
  using DataError::DataError;
};

// The body of POST /get_reward (see NOTE [OpenRLHF remote reward API]) as one pointwise
// ScoreRequest (NOTE [OpenRLHF items as pointwise items]); policy_version and deadline are left
// 0. A pure function of its input, the fuzz entry point: it throws RequestTooLarge for more
// items or text bytes than `limits`, DataError for anything else wrong, naming the field and
// index (e.g. "labels[3]: expected a string, number, boolean or null, got object"), and nothing
// else for any input (bad UTF-8 and nesting deeper than 64 are DataErrors).
ScoreRequest parseGetRewardBody(std::string_view body, const RequestLimits& limits);

// The 200 body: {"rewards": [...], "scores": [...]}. Throws InternalError for a non-finite score
// (JSON has no NaN, and OpenRLHF would fail on a null).
std::string formatGetRewardReply(const std::vector<double>& scores);

// The HTTP endpoint. Construction binds and listens and starts the io threads; the endpoint
// serves until stop() or destruction. Requests go to `sink` without blocking an io thread; the
// sink's callback (a worker thread) posts the answer back to the connection's strand. HTTP/1.1
// keep-alive; one request at a time per connection (no pipelining of answers).
//
// Threads: every method may be called from any thread. Blocking: the constructor does not;
// stop() blocks until in-flight requests are answered or drain_timeout passes, then joins the
// io threads. Throws: the constructor throws ConfigError when bind_host does not resolve and
// SystemError when it cannot bind or listen (naming host:port and the OS's message).
// Lifetime: `sink` must outlive the endpoint. A callback the sink calls after stop() returned
// (it should not: see ScoreSink) is dropped safely; its connection is already closed.
class HttpRewardEndpoint {
 public:
  HttpRewardEndpoint(HttpEndpointOptions options, ScoreSink& sink);
  ~HttpRewardEndpoint();
  HttpRewardEndpoint(const HttpRewardEndpoint&) = delete;
  HttpRewardEndpoint& operator=(const HttpRewardEndpoint&) = delete;

  // The bound port (the ephemeral one when options.port was 0).
  uint16_t port() const;
  // Stops accepting, closes idle connections, lets in-flight requests be answered (with
  // Connection: close) for up to drain_timeout, then stops the io threads. Idempotent.
  void stop();

  struct Core;  // shared with connections and sink callbacks; defined in the .cc

 private:
  std::shared_ptr<Core> core_;
  uint16_t port_ = 0;
};

}  // namespace gramrl::reward
