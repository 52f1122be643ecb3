// The read-only diagram of the inbox's instance and definition pages (bpmn-js NavigatedViewer).
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';

window.StageflowViewer = function (container) {
  return new NavigatedViewer({ container, moddleExtensions: { camunda: camundaModdle } });
};
