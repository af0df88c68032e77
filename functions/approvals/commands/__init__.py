"""What people do to an approval, one module a use case: start, decide, add signers (加签), transfer
(转交), return (退回), resubmit, withdraw (撤回), remind (催办), comment. Each change is one
revision-conditional write (unit_of_work); errors are the domain's, which carry their HTTP status."""
