// The clipclap subcommands. Each takes the arguments after its name and returns the exit code.
#pragma once

namespace cc {

int cmd_embed(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_assemble(int argc, char** argv);
int cmd_models(int argc, char** argv);
int cmd_pull(int argc, char** argv);
int cmd_push(int argc, char** argv);
int cmd_pack(int argc, char** argv);
int cmd_serve(int argc, char** argv);

}  // namespace cc
