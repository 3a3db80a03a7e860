-- Who reads which packages (issue 21, point 13; docs/PARTICIPANTS.md): an insurer reads the
-- accounts it pays (PLAT), a clinic the accounts billed in its name (CODE_MO). These indexes
-- serve the sub-selects of api::scope; the fund's (territory) has account_decision_territory_period.
CREATE INDEX account_decision_plat ON account_decision (plat);
CREATE INDEX account_decision_code_mo ON account_decision (code_mo);
