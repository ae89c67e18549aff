//! The noise filter's table: transient text (EN/ZH) per category, and durable text that must
//! survive, including the reference fixtures' memory entries.

use jiff::civil::date;
use rstest::rstest;

use super::*;

fn check(text: &str) -> Option<NoiseCategory> {
    let filter = NoiseFilter::new().unwrap();
    filter.check(text, date(2026, 5, 7)).map(|hit| hit.category)
}

#[rstest]
#[case::mr_number_merged("MR !14 merged", NoiseCategory::PrStatus)]
#[case::pr_number("Opened PR #123 for the login fix", NoiseCategory::PrStatus)]
#[case::pr_state_words("The pull request was approved by Alice", NoiseCategory::PrStatus)]
#[case::zh_mr_merged("MR 已合并到主干", NoiseCategory::PrStatus)]
#[case::build_green("The build is green again", NoiseCategory::BuildStatus)]
#[case::tests_failing("Integration tests are failing on main", NoiseCategory::BuildStatus)]
#[case::all_tests_pass("All tests pass now", NoiseCategory::BuildStatus)]
#[case::zh_tests_passed("单测已经通过", NoiseCategory::BuildStatus)]
#[case::commit_hash("Fixed in commit 3f2a1b9", NoiseCategory::CommitHash)]
#[case::bare_hash("see 9c1e4d2ab0 for the change", NoiseCategory::CommitHash)]
#[case::zh_hash("修复提交 a1b2c3d4e5", NoiseCategory::CommitHash)]
#[case::topic_branch("Work continues on feature/login-rework", NoiseCategory::BranchName)]
#[case::branch_pushed("the feature branch was pushed", NoiseCategory::BranchName)]
#[case::zh_branch("已推送到远端分支", NoiseCategory::BranchName)]
#[case::round_n("round 2 pending", NoiseCategory::ReviewRound)]
#[case::round1("round1 complete", NoiseCategory::ReviewRound)]
#[case::second_round("Second round review approved", NoiseCategory::ReviewRound)]
#[case::zh_round("第二轮评审意见已处理", NoiseCategory::ReviewRound)]
#[case::zh_this_round("本轮 plan 已落地", NoiseCategory::ReviewRound)]
#[case::todo_left("TODO: 3 left", NoiseCategory::TodoState)]
#[case::checkbox("- [x] wire the cache", NoiseCategory::TodoState)]
#[case::zh_todo("待办事项还剩 2 个", NoiseCategory::TodoState)]
#[case::yesterday("Comments were handled yesterday", NoiseCategory::ThisWeekDate)]
#[case::this_week("Deploy freeze this week", NoiseCategory::ThisWeekDate)]
#[case::iso_date_this_week("Release cut on 2026-05-05", NoiseCategory::ThisWeekDate)]
#[case::zh_today("今天把接口联调好了", NoiseCategory::ThisWeekDate)]
#[case::zh_date("2026年5月8日 发布", NoiseCategory::ThisWeekDate)]
#[case::step_done("Step 2 done, step 3 next", NoiseCategory::TaskProgress)]
#[case::now_merged("The refactor is now merged", NoiseCategory::TaskProgress)]
#[case::addressed_comments("Addressed all review comments", NoiseCategory::TaskProgress)]
#[case::fraction("4/7 tasks finished", NoiseCategory::TaskProgress)]
#[case::zh_landed("方案均已落地", NoiseCategory::TaskProgress)]
#[case::zh_in_progress("迁移进行中", NoiseCategory::TaskProgress)]
fn transient_text_is_noise(#[case] text: &str, #[case] want: NoiseCategory) {
    assert_eq!(check(text), Some(want), "{text}");
}

#[rstest]
#[case::preference("Answer in English and keep replies short")]
#[case::conditional_build("When the build fails with E0658, update the toolchain first")]
#[case::conditional_zh("如果测试失败，先检查 Go 工具链版本")]
#[case::done_via("Deployment is done via `make deploy` from the ops host")]
#[case::old_date("The v1 API was deprecated on 2024-01-15")]
#[case::mr_as_a_word("pin the dependency so unrelated churn does not enter the MR")]
#[case::main_branch_fact("The default branch is develop, not main")]
#[case::path_with_fix("Fixtures live in tests/fix/data")]
#[case::hex_word("The magic value deadbeef marks freed blocks")]
#[case::number("Timeouts are 1800000 ms")]
#[case::zh_rule("提交代码前先运行 cargo fmt")]
#[case::polling("这一轮询间隔是 5 秒")]
#[case::fixture_ack(
    "For commerce_membership_api coin-widget work, keep no-login real ack handling explicit; do not treat no-login synthetic ack paths as equivalent to real ack evidence."
)]
#[case::fixture_overpass(
    "Avoid refreshing generated Overpass dependencies with @latest during targeted fixes; pin the intended IDL/dependency version so unrelated generated churn does not enter the MR."
)]
#[case::fixture_mockey(
    "When commerce_membership_api tests fail around mockey/runtime, verify the Go toolchain version and mockey compatibility before rewriting business logic."
)]
#[case::fixture_luna(
    "For luna_tp alarm secretary changes, keep controller input validation explicit and preserve the service convention that batch bodies are validated before domain calls."
)]
fn durable_text_is_kept(#[case] text: &str) {
    assert_eq!(check(text), None, "{text}");
}

#[test]
fn the_hit_names_the_matched_text_for_the_receipt() {
    let filter = NoiseFilter::new().unwrap();
    let hit = filter.check("MR !14 merged", date(2026, 5, 7)).unwrap();
    assert_eq!(hit.matched, "MR !14");
    assert_eq!(hit.category.as_str(), "pr_status");
}
