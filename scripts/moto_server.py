"""moto's server, with three corrections that make it behave as AWS does.

1. Each DynamoDB request is applied atomically, as DynamoDB applies it. moto serves requests on
   threads and its DynamoDB backend takes no lock, so two concurrent conditional writes (or
   transactions) can both find their condition true, which real DynamoDB never allows. DynamoDB
   requests (X-Amz-Target DynamoDB_*) are serialised; every other service stays concurrent: Step
   Functions executions call back into the server while requests run.
2. Step Functions' optimised integration `arn:aws:states:::states:startExecution` takes its
   parameters as the API reference names them (StateMachineArn, Name, Input). moto's executor
   hands them to boto unrenamed, and boto (whose members are stateMachineArn, name, input) fails
   with KeyError 'StateMachineArn'. The parameters are renamed to the operation's members first,
   as Step Functions does, and the answer's dates are given as text, so a definition that starts
   another execution runs as deployed.
3. StopExecution ends a run that waits for a task token at once, as on AWS. moto marks the
   program stopped but leaves the task's wait blocked until its heartbeat times out, so the run
   stayed RUNNING; the stop now also wakes every callback the run waits on, and the error the
   woken task then raises does not turn the stopped run into a failed one (it ends ABORTED).

Arguments are moto_server's.
"""
import sys
import threading

from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_dynamodb = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _call(self, environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        with _dynamodb:
            # Consume the body inside the lock: the request is done when its answer is.
            return list(_dispatch(self, environ, start_response))
    return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = _call


def _rename_sfn_parameters():
    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_sfn as sfn_task,
    )

    model = botocore.session.get_session().get_service_model("stepfunctions")
    members = {
        botocore.xform_name(name): model.operation_model(name).input_shape
        for name in model.operation_names
    }
    normalise = sfn_task.StateTaskServiceSfn._normalise_parameters

    def _normalise(self, parameters, boto_service_name=None, service_action_name=None):
        normalise(self, parameters, boto_service_name, service_action_name)
        shape = members.get(self._get_boto_service_action(service_action_name))
        if service_action_name is None and shape is not None:
            self._to_boto_request(parameters, shape)

    evaluate = sfn_task.StateTaskServiceSfn._eval_service_task

    def _evaluate(self, env, *args, **kwargs):
        # The answer as the integration gives it: the API's member names in PascalCase, and dates
        # as text (moto would otherwise fail to serialise the state's output).
        evaluate(self, env, *args, **kwargs)
        answer = env.stack[-1]
        if isinstance(answer, dict):
            env.stack[-1] = {
                key[:1].upper() + key[1:]: value.isoformat() if hasattr(value, "isoformat") else value
                for key, value in answer.items()
            }

    sfn_task.StateTaskServiceSfn._normalise_parameters = _normalise
    sfn_task.StateTaskServiceSfn._eval_service_task = _evaluate


_rename_sfn_parameters()


def _stop_wakes_callbacks():
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    stop = ExecutionWorker.stop
    set_error = Environment.set_error

    def _set_error(self, error):
        with self._state_mutex:
            stopped = isinstance(self._program_state, ProgramStopped)
        if not stopped:
            set_error(self, error)

    def _stop(self, stop_date, error, cause):
        stop(self, stop_date=stop_date, error=error, cause=cause)
        for endpoint in list(self.env.callback_pool_manager._pool.values()):
            endpoint.interrupt_all()

    ExecutionWorker.stop = _stop
    Environment.set_error = _set_error


_stop_wakes_callbacks()

if __name__ == "__main__":
    server.main(sys.argv[1:])
