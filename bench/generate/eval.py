#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Success rate of `moonwire generate` per prompt: each prompt is generated
# into a fresh database, its scenarios' shares are run against the real
# target, and the requests received are checked (the same evaluation as
# tests/e2e/test_generate.py, which owns the scenarios and the checks).
#
#   bench/generate/eval.py [--moonwire build/moonwire] [--set shared]
#                          [--provider builtin|openai] [--prompts FILE]
#                          [--runs N] [--json]
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import test_generate as evaluation  # noqa: E402

SETS = {
    "shared": lambda: evaluation.load_prompts(),
    "paraphrases": lambda: (evaluation.PARAPHRASES
                            + evaluation.MORE_PARAPHRASES
                            + evaluation.REPHRASED + evaluation.STYLES),
}
SETS["all"] = lambda: SETS["shared"]() + SETS["paraphrases"]()


def entries(opts):
    if opts.prompts:
        with open(opts.prompts, encoding="utf-8") as f:
            return json.load(f)
    return SETS[opts.set]()


def evaluate(opts, entry, targets):
    """Returns {scenario: [problems]} over opts.runs runs of each."""
    results = {}
    env = None
    for sc in evaluation.scenarios_of(entry):
        problems = []
        for _ in range(opts.runs):
            try:
                problems += evaluation.run_scenario(
                    opts.moonwire, entry, sc, targets.get(entry),
                    provider=opts.provider, env=env)
            except Exception as e:  # a failed generate is a failed case
                problems.append("%s: %s" % (type(e).__name__, e))
        results[sc] = problems
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--moonwire", default=os.path.join(ROOT, "build", "moonwire"))
    ap.add_argument("--set", choices=sorted(SETS), default="shared")
    ap.add_argument("--prompts", help="a prompts.json of your own")
    ap.add_argument("--provider", default="builtin")
    ap.add_argument("--runs", type=int, default=1,
                    help="runs per scenario (a model may not answer the same)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--verbose", action="store_true", help="print problems")
    opts = ap.parse_args()

    targets = evaluation.Targets()
    report, total, passed, prompts_ok = [], 0, 0, 0
    t0 = time.time()
    try:
        for entry in entries(opts):
            res = evaluate(opts, entry, targets)
            ok = [sc for sc, p in res.items() if not p]
            total += len(res)
            passed += len(ok)
            prompts_ok += len(ok) == len(res)
            report.append({"id": entry["id"], "scenarios": len(res),
                           "passed": len(ok),
                           "rate": len(ok) / len(res) if res else 1.0,
                           "failed": {sc: p for sc, p in res.items() if p}})
    finally:
        targets.close()
    summary = {"prompts": len(report), "prompts_all_passed": prompts_ok,
               "prompt_rate": prompts_ok / len(report) if report else 1.0,
               "scenarios": total, "scenarios_passed": passed,
               "scenario_rate": passed / total if total else 1.0,
               "provider": opts.provider, "seconds": round(time.time() - t0, 1)}
    if opts.json:
        print(json.dumps({"prompts": report, "summary": summary}, indent=2))
        return 0
    for r in report:
        print("%-6s %3d/%-3d %6.1f%%" % (r["id"], r["passed"], r["scenarios"],
                                         100 * r["rate"]))
        if opts.verbose:
            for sc, problems in r["failed"].items():
                print("         %s: %s" % (sc, problems[0][:300]))
    print("prompts fully right: %d/%d (%.1f%%); scenarios: %d/%d (%.1f%%); "
          "provider %s; %.1fs" % (
              prompts_ok, len(report), 100 * summary["prompt_rate"], passed,
              total, 100 * summary["scenario_rate"], opts.provider,
              summary["seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
