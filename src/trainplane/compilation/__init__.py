"""Model compilation (SageMaker Neo's job): what can be compiled for which target, and the runner.

`targets` is pure and checked at create; `runner` is the job's process under the supervisor, the only
module here that loads the compilers (Apache TVM, Treelite + TL2cgen).
"""
