# SPDX-License-Identifier: Apache-2.0
# The glue's concerns in layers (docs/architecture.md "How the code is laid
# out"), sourced by tests/check_includes.sh (what a file includes) and
# tests/check_calls.sh (what its object calls): a file uses its own
# concern and the concerns below it, never one above, so no two concerns
# depend on each other. mod_genflow.c, the module's declaration and hooks,
# is above them all and wires them together; mod_genflow_process.c, the
# process's record, is below them all.
layers="private process config request site schema trace db http metrics servers slots breaker cors policy lines authn_cache
        idempotency limits budgets router engine watch handlers"

# The concerns live in folders of httpd/, named for what they hold, one
# folder for a run of neighbouring layers, so that the folders are in
# layers too, from the bottom: config (the process record, the
# configuration, the request record, the site's layout), io (the database,
# HTTP answers, traces, metrics), servers (the servers and their providers'
# shared state: slots, circuit breakers), gates (what a request meets at
# the door: CORS, the prompt policy, premium lines, the authn cache,
# idempotency keys), limits (the providers' limits, the budgets, the
# router), engine, watch (waiting clients), api (the handlers). The
# module's record, mod_genflow.c, stays at the top of httpd/.
folders="config io servers gates limits engine watch api"
folder_of() {   # concern → its folder under httpd/ ("." for the record)
    case $1 in
        record) echo . ;;
        private|process|config|request|site) echo config ;;
        schema|trace|db|http|metrics) echo io ;;
        servers|slots|breaker) echo servers ;;
        cors|policy|lines|authn_cache|idempotency) echo gates ;;
        limits|budgets|router) echo limits ;;
        engine) echo engine ;;
        watch) echo watch ;;
        handlers) echo api ;;
        *) echo "" ;;
    esac
}

# A file's concern is its name's first word after mod_genflow_ (a naming
# scheme in one folder, as mod_http2's h2_*): mod_genflow_engine_claim.c is
# the engine's, mod_genflow_handle_type.c a handler's.
concern_of() {   # file name (with or without .c/.h/.o) → its concern
    case $1 in
        mod_genflow|mod_genflow.[ch]) echo record ;;
        mod_genflow_authn_cache*) echo authn_cache ;;
        mod_genflow_handle*) echo handlers ;;
        mod_genflow_*) echo "$1" | sed 's/^mod_genflow_\([a-z]*\).*/\1/' ;;
        *) echo "" ;;
    esac
}

rank() {   # concern → its layer, from 0 at the bottom; 999 for the record; -1 unknown
    [ "$1" = record ] && { echo 999; return; }
    i=0
    for l in $layers; do [ "$l" = "$1" ] && { echo $i; return; }; i=$((i + 1)); done
    echo -1
}

# Inside the engine, its files in layers too (docs/architecture.md, "The
# engine"): the engine object at the bottom, the workers (threads and
# rounds) at the top, and between them the steps of an attempt, each
# calling only those below it: worker → claim → attempt → pacer → standby → keep
# → preview → progress → outcome → source → row → batch → changes → engine.
engine_parts="engine changes doorbell duty batch row source outcome progress preview keep standby pacer attempt claim handon
              sweep uploads webhooks listener worker"

# Inside the handlers (httpd/api/), their files in layers too: the
# answers and reads at the bottom, the type handler and the one handler
# table at the top; a file calls only those below it, so the type's
# files, which share one header (mod_genflow_handle_int.h), call one way.
api_parts="quota uploads admin type_answers type_read type_edits type_pictures type_create_batch type_create type_generate type_events
           gate type api discovery metrics webhook handlers"

# The concerns whose files are in layers of their own, and those layers.
parts_of() {   # concern → its parts from the bottom; nothing for a concern of one layer
    case $1 in
        engine) echo "$engine_parts" ;;
        handlers) echo "$api_parts" ;;
    esac
}

part_of() {   # concern, a file's name → its part within the concern
    case $1:$2 in
        engine:mod_genflow_engine|engine:mod_genflow_engine.[ch]) echo engine ;;
        engine:mod_genflow_engine_*) echo "$2" | sed 's/^mod_genflow_engine_\([a-z]*\).*/\1/' ;;
        handlers:mod_genflow_handlers|handlers:mod_genflow_handlers.[ch]) echo handlers ;;
        handlers:mod_genflow_handle_*) echo "$2" | sed 's/^mod_genflow_handle_\([a-z_]*\).*/\1/; s/\.[ch]$//' ;;
    esac
}

part_rank() {   # concern, part → its layer within the concern; -1 unknown
    i=0
    for l in $(parts_of "$1"); do [ "$l" = "$2" ] && { echo $i; return; }; i=$((i + 1)); done
    echo -1
}
