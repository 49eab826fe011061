// Round trips of every channel's messages through Cap'n Proto serialization, field by field.
#include <cstring>
#include <numeric>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include "schemas/control.capnp.h"
#include "schemas/reward.capnp.h"
#include "schemas/rollout.capnp.h"
#include "schemas/weights.capnp.h"

namespace gramrl {
namespace {

// Serialize to the flat wire form and read back, as a receiver would.
template <class T, class Fill, class Check>
void roundTrip(Fill fill, Check check) {
  capnp::MallocMessageBuilder builder;
  fill(builder.initRoot<T>());
  kj::Array<capnp::word> flat = capnp::messageToFlatArray(builder);
  capnp::FlatArrayMessageReader reader(flat.asPtr());
  check(reader.getRoot<T>());
}

TEST(RewardSchema, PointwiseRequestRoundTrips) {
  roundTrip<wire::RewardMessage>(
      [](wire::RewardMessage::Builder m) {
        m.setSeq(17);
        auto req = m.initScoreRequest();
        req.setPolicyVersion(3);
        req.setDeadlineUnixMs(1764150000000ull);
        auto items = req.initPointwise(2);
        items[0].setPrompt("Sort: 3 1 2");
        items[0].setResponse("1 2 3");
        items[0].setReference("1 3 2");
        items[1].setPrompt("Reverse: abc");
        items[1].setResponse("cba");
        items[1].setLabel("cba");
      },
      [](wire::RewardMessage::Reader m) {
        EXPECT_EQ(m.getSeq(), 17u);
        ASSERT_EQ(m.which(), wire::RewardMessage::SCORE_REQUEST);
        auto req = m.getScoreRequest();
        EXPECT_EQ(req.getPolicyVersion(), 3u);
        EXPECT_EQ(req.getDeadlineUnixMs(), 1764150000000ull);
        ASSERT_EQ(req.which(), wire::ScoreRequest::POINTWISE);
        auto items = req.getPointwise();
        ASSERT_EQ(items.size(), 2u);
        EXPECT_EQ(items[0].getPrompt(), "Sort: 3 1 2");
        EXPECT_EQ(items[0].getReference(), "1 3 2");
        EXPECT_EQ(items[1].getLabel(), "cba");
        EXPECT_EQ(items[1].getReference(), "");
      });
}

TEST(RewardSchema, BestOfNAndReplyAndErrorRoundTrip) {
  roundTrip<wire::RewardMessage>(
      [](wire::RewardMessage::Builder m) {
        m.setSeq(5);
        auto groups = m.initScoreRequest().initBestOfN(1);
        groups[0].setPrompt("q");
        auto c = groups[0].initCandidates(3);
        c.set(0, "a");
        c.set(1, "b");
        c.set(2, "c");
      },
      [](wire::RewardMessage::Reader m) {
        ASSERT_EQ(m.getScoreRequest().which(), wire::ScoreRequest::BEST_OF_N);
        auto g = m.getScoreRequest().getBestOfN()[0];
        ASSERT_EQ(g.getCandidates().size(), 3u);
        EXPECT_EQ(g.getCandidates()[2], "c");
      });
  roundTrip<wire::RewardMessage>(
      [](wire::RewardMessage::Builder m) {
        m.setSeq(5);
        auto r = m.initScoreReply();
        r.setModelName("gram");
        auto s = r.initScores(3);
        s.set(0, 0.25f);
        s.set(1, -1.5f);
        s.set(2, 0.75f);
        r.initBest(1).set(0, 2);
        r.setComputeMs(12.5f);
      },
      [](wire::RewardMessage::Reader m) {
        ASSERT_EQ(m.which(), wire::RewardMessage::SCORE_REPLY);
        auto r = m.getScoreReply();
        EXPECT_EQ(r.getModelName(), "gram");
        EXPECT_FLOAT_EQ(r.getScores()[1], -1.5f);
        EXPECT_EQ(r.getBest()[0], 2u);
        EXPECT_FLOAT_EQ(r.getComputeMs(), 12.5f);
      });
  roundTrip<wire::RewardMessage>(
      [](wire::RewardMessage::Builder m) {
        m.setSeq(6);
        auto e = m.initError();
        e.setCode(wire::ErrorCode::OVERLOADED);
        e.setMessage("queue full (256 of 256)");
        e.setRetryAfterMs(20);
      },
      [](wire::RewardMessage::Reader m) {
        ASSERT_EQ(m.which(), wire::RewardMessage::ERROR);
        EXPECT_EQ(m.getSeq(), 6u);
        EXPECT_EQ(m.getError().getCode(), wire::ErrorCode::OVERLOADED);
        EXPECT_EQ(m.getError().getMessage(), "queue full (256 of 256)");
        EXPECT_EQ(m.getError().getRetryAfterMs(), 20u);
      });
}

TEST(RolloutSchema, TrajectoryBatchRoundTripsAndKeepsItsInvariants) {
  const std::vector<uint32_t> prompt_lengths{3, 2};
  const std::vector<uint32_t> response_lengths{2, 4};
  roundTrip<wire::RolloutMessage>(
      [&](wire::RolloutMessage::Builder m) {
        m.setSeq(99);
        auto b = m.initBatch();
        b.setActorId(4);
        b.setPolicyVersion(12);
        auto pl = b.initPromptLengths(2);
        auto rl = b.initResponseLengths(2);
        for (uint32_t i = 0; i < 2; ++i) {
          pl.set(i, prompt_lengths[i]);
          rl.set(i, response_lengths[i]);
        }
        auto tokens = b.initTokens(11);
        for (uint32_t i = 0; i < 11; ++i) tokens.set(i, static_cast<int32_t>(100 + i));
        auto lp = b.initBehaviourLogprobs(6);
        for (uint32_t i = 0; i < 6; ++i) lp.set(i, -0.5f * static_cast<float>(i));
        auto rw = b.initRewards(2);
        rw.set(0, 0.9f);
        rw.set(1, -0.1f);
        auto fr = b.initFinishReasons(2);
        fr.set(0, wire::FinishReason::STOP_TOKEN);
        fr.set(1, wire::FinishReason::MAX_TOKENS);
        auto ids = b.initPromptIds(2);
        ids.set(0, 7);
        ids.set(1, 7);
        auto si = b.initSampleIndex(2);
        si.set(0, 0);
        si.set(1, 1);
      },
      [&](wire::RolloutMessage::Reader m) {
        EXPECT_EQ(m.getSeq(), 99u);
        ASSERT_EQ(m.which(), wire::RolloutMessage::BATCH);
        auto b = m.getBatch();
        EXPECT_EQ(b.getActorId(), 4u);
        EXPECT_EQ(b.getPolicyVersion(), 12u);
        uint64_t prompt_sum = 0, response_sum = 0;
        for (auto v : b.getPromptLengths()) prompt_sum += v;
        for (auto v : b.getResponseLengths()) response_sum += v;
        EXPECT_EQ(b.getTokens().size(), prompt_sum + response_sum);
        EXPECT_EQ(b.getBehaviourLogprobs().size(), response_sum);
        EXPECT_EQ(b.getTokens()[10], 110);
        EXPECT_FLOAT_EQ(b.getBehaviourLogprobs()[5], -2.5f);
        EXPECT_EQ(b.getFinishReasons()[1], wire::FinishReason::MAX_TOKENS);
        EXPECT_EQ(b.getPromptIds()[1], 7u);
        EXPECT_FLOAT_EQ(b.getRewards()[0], 0.9f);
      });
}

TEST(WeightsSchema, ManifestAndChunkWithTensorPayloadRoundTrip) {
  std::vector<float> values(1000);
  std::iota(values.begin(), values.end(), 0.0f);
  roundTrip<wire::WeightsMessage>(
      [&](wire::WeightsMessage::Builder m) {
        m.setSeq(1);
        auto chunk = m.initChunk();
        chunk.setVersion(8);
        chunk.setIndex(0);
        auto t = chunk.initTensors(1)[0];
        t.setName("model.layers.0.mlp.up_proj.weight");
        t.setDtype(wire::DType::FLOAT32);
        auto shape = t.initShape(2);
        shape.set(0, 10);
        shape.set(1, 100);
        auto data = t.initData(values.size() * sizeof(float));
        std::memcpy(data.begin(), values.data(), data.size());
      },
      [&](wire::WeightsMessage::Reader m) {
        ASSERT_EQ(m.which(), wire::WeightsMessage::CHUNK);
        auto t = m.getChunk().getTensors()[0];
        EXPECT_EQ(t.getName(), "model.layers.0.mlp.up_proj.weight");
        EXPECT_EQ(t.getDtype(), wire::DType::FLOAT32);
        EXPECT_EQ(t.getShape()[1], 100);
        ASSERT_EQ(t.getData().size(), values.size() * sizeof(float));
        EXPECT_EQ(std::memcmp(t.getData().begin(), values.data(), t.getData().size()), 0);
      });
  roundTrip<wire::WeightsMessage>(
      [](wire::WeightsMessage::Builder m) {
        m.setSeq(2);
        auto man = m.initManifest();
        man.setVersion(8);
        man.setTransport(wire::WeightTransport::NCCL);
        auto specs = man.initTensors(1);
        specs[0].setName("lm_head.weight");
        specs[0].setDtype(wire::DType::BFLOAT16);
        specs[0].initShape(2).set(1, 64);
        specs[0].setOffsetBytes(4096);
        specs[0].setSizeBytes(8192);
        man.setTotalBytes(12288);
      },
      [](wire::WeightsMessage::Reader m) {
        ASSERT_EQ(m.which(), wire::WeightsMessage::MANIFEST);
        auto man = m.getManifest();
        EXPECT_EQ(man.getTransport(), wire::WeightTransport::NCCL);
        EXPECT_EQ(man.getTensors()[0].getDtype(), wire::DType::BFLOAT16);
        EXPECT_EQ(man.getTensors()[0].getOffsetBytes(), 4096u);
        EXPECT_EQ(man.getTotalBytes(), 12288u);
      });
}

TEST(ControlSchema, RegisterHeartbeatStopRoundTrip) {
  roundTrip<wire::ControlMessage>(
      [](wire::ControlMessage::Builder m) {
        m.setSeq(3);
        auto s = m.initSender();
        s.setRole(wire::Role::REWARD_SERVER);
        s.setIndex(1);
        s.setHost("node7");
        s.setPid(4242);
        auto eps = m.initRegister().initEndpoints(1);
        eps[0].setName("reward");
        eps[0].setAddress("tcp://10.0.0.7:41234");
      },
      [](wire::ControlMessage::Reader m) {
        EXPECT_EQ(m.getSender().getRole(), wire::Role::REWARD_SERVER);
        EXPECT_EQ(m.getSender().getPid(), 4242u);
        ASSERT_EQ(m.which(), wire::ControlMessage::REGISTER);
        EXPECT_EQ(m.getRegister().getEndpoints()[0].getAddress(), "tcp://10.0.0.7:41234");
      });
  roundTrip<wire::ControlMessage>(
      [](wire::ControlMessage::Builder m) {
        m.setSeq(4);
        auto hb = m.initHeartbeat();
        hb.setState(wire::ProcessState::DRAINING);
        hb.setStep(-1);
        hb.setPolicyVersion(6);
      },
      [](wire::ControlMessage::Reader m) {
        ASSERT_EQ(m.which(), wire::ControlMessage::HEARTBEAT);
        EXPECT_EQ(m.getHeartbeat().getState(), wire::ProcessState::DRAINING);
        EXPECT_EQ(m.getHeartbeat().getStep(), -1);
        EXPECT_EQ(m.getHeartbeat().getPolicyVersion(), 6);
      });
  roundTrip<wire::ControlMessage>(
      [](wire::ControlMessage::Builder m) {
        m.setSeq(5);
        auto st = m.initStop();
        st.setReason("SIGTERM");
        st.setGraceful(true);
        st.setDeadlineMs(30000);
      },
      [](wire::ControlMessage::Reader m) {
        ASSERT_EQ(m.which(), wire::ControlMessage::STOP);
        EXPECT_TRUE(m.getStop().getGraceful());
        EXPECT_EQ(m.getStop().getDeadlineMs(), 30000u);
      });
}

// An older reader that knows fewer fields must read a newer message; capnp guarantees this as
// long as fields are only appended (NOTE [Schema evolution]). Defaults apply to absent fields.
TEST(SchemaEvolution, UnsetFieldsReadAsDefaults) {
  roundTrip<wire::RewardMessage>([](wire::RewardMessage::Builder m) { m.initScoreReply(); },
                                 [](wire::RewardMessage::Reader m) {
                                   EXPECT_EQ(m.getSeq(), 0u);
                                   EXPECT_EQ(m.getScoreReply().getScores().size(), 0u);
                                   EXPECT_EQ(m.getScoreReply().getModelName(), "");
                                 });
}

}  // namespace
}  // namespace gramrl
