// Shard plans on the wire (cluster.proto ShardSpec) and back.
#pragma once

#include <google/protobuf/repeated_field.h>

#include "cluster.pb.h"
#include "common/status.h"
#include "engine/shard.h"

namespace tandem {

void ToProto(const ShardPlan& plan, google::protobuf::RepeatedPtrField<cluster::v1::ShardSpec>* out);
// Checks only the form; CheckPlan checks it against a model.
Expected<ShardPlan> FromProto(const google::protobuf::RepeatedPtrField<cluster::v1::ShardSpec>& specs);

}  // namespace tandem
